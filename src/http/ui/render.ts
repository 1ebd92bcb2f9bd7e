// Rendering of the admin pages: eta templates from views/ (escaped by default),
// the shared layout data, and the small set of formatting helpers the templates use.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Eta } from 'eta';
import type { Context } from 'koa';
import { COMMENT_MAX, DEFAULT_GRACE, EMAIL_MAX, NAME_MAX, PASSWORD_MAX, PASSWORD_MIN, RETIRE_WHEN_IDLE_NAMES } from '../../domain/limits.ts';
import { MAX_KEYPAIR_LIFETIME_DAYS } from '../../domain/expiry.ts';
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

const relative = new Intl.RelativeTimeFormat('en', { numeric: 'always' });
// Table cells: "3 hr. ago", "in 15 min.", so that a row stays one line.
const relativeShort = new Intl.RelativeTimeFormat('en', { numeric: 'always', style: 'short' });
const RELATIVE_STEPS: [limitMs: number, unitMs: number, unit: Intl.RelativeTimeFormatUnit][] = [
  [60_000, 1000, 'second'],
  [3_600_000, 60_000, 'minute'],
  [172_800_000, 3_600_000, 'hour'],
  [60 * 86_400_000, 86_400_000, 'day'],
  [730 * 86_400_000, 30 * 86_400_000, 'month'],
  [Infinity, 365 * 86_400_000, 'year'],
];

/** "in 23 hours", "5 minutes ago", "in 2 days" ("in 23 hr." when short). */
export function relativeTime(iso: string | Date | null | undefined, now: Date, short = false): string {
  if (!iso) return '';
  const ms = (typeof iso === 'string' ? new Date(iso) : iso).getTime() - now.getTime();
  const abs = Math.abs(ms);
  const [, unitMs, unit] = RELATIVE_STEPS.find(([limit]) => abs < limit)!;
  const count = Math.max(1, Math.round(abs / unitMs));
  return (short ? relativeShort : relative).format(ms >= 0 ? count : -count, unit);
}

const validDate = (value: string | Date | null | undefined): Date | null => {
  if (!value) return null;
  const d = typeof value === 'string' ? new Date(value) : value;
  return Number.isNaN(d.getTime()) ? null : d;
};

/**
 * A time as every page shows it: relative ("3 hours ago"), the absolute time on hover.
 * Rendered in UTC; app.js rewrites the title into the browser's time zone. The markup
 * is built from a Date only (digits, letters, spaces), so it is safe unescaped (`<%~`).
 */
export function timeTag(value: string | Date | null | undefined, now: Date, short = false): string {
  const d = validDate(value);
  if (!d) return '';
  return `<time datetime="${d.toISOString()}" title="${formatTime(d)}">${relativeTime(d, now, short)}</time>`;
}

/** An absolute time in running text ("until 2026-05-02 14:03 UTC"): app.js rewrites its text into the browser's time zone. */
export function absoluteTimeTag(value: string | Date | null | undefined, now: Date): string {
  const d = validDate(value);
  if (!d) return '';
  return `<time datetime="${d.toISOString()}" data-time="absolute" title="${relativeTime(d, now)}">${formatTime(d)}</time>`;
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

export const helpers = { formatTime, formatDay, relativeTime, timeTag, absoluteTimeTag, assetUrl };

/** The domain's limits the forms repeat (maxlength, minlength, the default grace), as `it.limits` in every view. */
export const FORM_LIMITS = { NAME_MAX, COMMENT_MAX, EMAIL_MAX, PASSWORD_MIN, PASSWORD_MAX, DEFAULT_GRACE, MAX_KEYPAIR_LIFETIME_DAYS, RETIRE_WHEN_IDLE_NAMES } as const;

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
