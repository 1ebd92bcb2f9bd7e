// Rendering of the admin pages: eta templates from views/ (escaped by default),
// the shared layout data, and the small set of formatting helpers the templates use.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Eta } from 'eta';
import type { Context } from 'koa';
import { COMMENT_MAX, DEFAULT_GRACE, EMAIL_MAX, NAME_MAX, PASSWORD_MAX, PASSWORD_MIN } from '../../domain/limits.ts';
import { publicPath } from '../public-base.ts';

const VIEWS = fileURLToPath(new URL('../../../views', import.meta.url));
const STATIC = fileURLToPath(new URL('./static', import.meta.url));

export const eta = new Eta({ views: VIEWS, cache: true, autoEscape: true, autoTrim: [false, 'nl'] });

/** The server's own static files (one stylesheet, one script, an icon), read once, versioned by content hash. */
export interface StaticFile { body: Buffer; type: string; hash: string }
export const STATIC_FILES: ReadonlyMap<string, StaticFile> = new Map(
  ([['app.css', 'text/css; charset=utf-8'], ['app.js', 'text/javascript; charset=utf-8'], ['icon.svg', 'image/svg+xml']] as const).map(([name, type]) => {
    const body = readFileSync(`${STATIC}/${name}`);
    return [name, { body, type, hash: createHash('sha256').update(body).digest('base64url').slice(0, 12) }];
  }),
);
/** A static file's app path (views get it with the issuer's path: `it.h.assetUrl`). */
export const assetUrl = (name: string) => `/ui/static/${name}?v=${STATIC_FILES.get(name)?.hash ?? '0'}`;

const pad = (n: number) => String(n).padStart(2, '0');

/** "2026-05-02 14:03 UTC": one unambiguous format for every admin. */
export function formatTime(iso: string | Date | null | undefined): string {
  if (!iso) return '';
  const d = typeof iso === 'string' ? new Date(iso) : iso;
  return `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())} ${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())} UTC`;
}

/** The date and the time of day apart, for narrow table cells. */
export function formatDay(iso: string | Date | null | undefined): { day: string; time: string } {
  const text = formatTime(iso);
  const space = text.indexOf(' ');
  return space === -1 ? { day: text, time: '' } : { day: text.slice(0, space), time: text.slice(space + 1) };
}

/** "in 23 h", "5 min ago". */
export function relativeTime(iso: string | Date | null | undefined, now: Date): string {
  if (!iso) return '';
  const ms = (typeof iso === 'string' ? new Date(iso) : iso).getTime() - now.getTime();
  const abs = Math.abs(ms);
  const text = abs < 60_000 ? `${Math.max(1, Math.round(abs / 1000))} s`
    : abs < 3_600_000 ? `${Math.round(abs / 60_000)} min`
      : abs < 172_800_000 ? `${Math.round(abs / 3_600_000)} h`
        : `${Math.round(abs / 86_400_000)} days`;
  return ms >= 0 ? `in ${text}` : `${text} ago`;
}

export interface Crumb { label: string; href?: string }

/** What every page's layout needs. */
export interface PageBase {
  title: string;
  user: { id: string; email: string; operator: boolean } | null;
  csrf: string | null;
  flash: string | null;
  crumbs: Crumb[];
}

export const helpers = { formatTime, formatDay, relativeTime, assetUrl };

/** The domain's limits the forms repeat (maxlength, minlength, the default grace), as `it.limits` in every view. */
export const FORM_LIMITS = { NAME_MAX, COMMENT_MAX, EMAIL_MAX, PASSWORD_MIN, PASSWORD_MAX, DEFAULT_GRACE } as const;

export function render(ctx: Context, view: string, data: PageBase & Record<string, unknown>, options: { status?: number } = {}): void {
  ctx.status = options.status ?? 200;
  ctx.type = 'text/html; charset=utf-8';
  // Admin pages are never cached: some hold a secret shown once, all are per user.
  ctx.set('Cache-Control', 'no-store');
  ctx.set('Pragma', 'no-cache');
  // Routes deal in app paths ('/ui/accounts'); `it.url` turns one into the link a
  // browser follows, under the issuer's path (src/http/public-base.ts).
  const url = (appPath: string) => publicPath(ctx, appPath);
  ctx.body = eta.render(view, { h: { ...helpers, assetUrl: (name: string) => url(assetUrl(name)) }, url, now: new Date(), limits: FORM_LIMITS, ...data });
}
