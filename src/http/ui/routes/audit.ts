// The audit trails: an account's (with its environments), an environment's and
// a keypair's, newest first, a page at a time, in words. The owners' trails
// filter by action, actor, keypair and dates, and export as CSV or JSON lines.
import type Router from '@koa/router';
import type { Context } from 'koa';
import { isAuditCursor, type AuditNarrowing } from '../../../domain/audit.ts';
import { ID_PATTERNS } from '../../../domain/credentials.ts';
import { AUDIT_ACTIONS, describeEvents, type DescribedEvent } from '../audit-view.ts';
import { authorizeOwner, keypairCrumbs, OWNER_PATHS, ownerPage, type OwnerPage } from '../owner-page.ts';
import { checkId, me, pageBase, signedIn, UI_PREFIX, type UiDeps } from '../page-helpers.ts';
import { render } from '../render.ts';

/** At most this many events in one export (newest first): narrow the dates for older ones. */
export const AUDIT_EXPORT_MAX = 10_000;

/** A well-formed audit page cursor from the query string, if any. */
function auditCursor(ctx: Context): string | undefined {
  const cursor = ctx.query.cursor;
  return typeof cursor === 'string' && cursor.length <= 200 && isAuditCursor(cursor) ? cursor : undefined;
}

const text = (ctx: Context, name: string, max: number) => {
  const value = ctx.query[name];
  return typeof value === 'string' && value.length <= max ? value.trim() : '';
};
const DAY = /^\d{4}-\d{2}-\d{2}$/;

interface AuditFilters {
  /** What the form shows back. */
  values: { action: string; actor: string; keypair: string; from: string; to: string };
  /** For the domain's query; null when a value cannot match anything (an unknown email). */
  narrowing: (AuditNarrowing & { keypairId?: string }) | null;
  errors: string[];
  /** The filters as a query string ('' or '?…'), for the pager and the exports. */
  query: string;
}

/** The filters from the query string, checked: a bad value is named on the page and ignored. */
async function auditFilters(ctx: Context, deps: UiDeps): Promise<AuditFilters> {
  const values = { action: text(ctx, 'action', 60), actor: text(ctx, 'actor', 320), keypair: text(ctx, 'keypair', 60), from: text(ctx, 'from', 10), to: text(ctx, 'to', 10) };
  const narrowing: AuditNarrowing & { keypairId?: string } = {};
  const errors: string[] = [];
  let matchesNothing = false;
  if (values.action) {
    if (AUDIT_ACTIONS.some((a) => a.value === values.action)) narrowing.action = values.action;
    else errors.push('Choose an action from the list.');
  }
  if (values.actor) {
    // An email, or one of the actors that are not users.
    if (values.actor === 'Keyport' || values.actor === 'system') narrowing.actor = 'system';
    else if (values.actor === 'cli') narrowing.actor = 'cli';
    else {
      const user = values.actor.includes('@') ? await deps.domain.users.findByEmail(values.actor) : null;
      if (user) narrowing.actor = `user:${user.id}`;
      else matchesNothing = true;
    }
  }
  if (values.keypair) {
    if (ID_PATTERNS.keyId.test(values.keypair)) narrowing.keypairId = values.keypair;
    else errors.push('A keypair is named by its key id (kp_…).');
  }
  for (const name of ['from', 'to'] as const) {
    if (!values[name]) continue;
    const day = DAY.test(values[name]) ? new Date(`${values[name]}T00:00:00Z`) : new Date(Number.NaN);
    if (Number.isNaN(day.getTime())) errors.push(`The ${name === 'from' ? 'first' : 'last'} day is not a date (YYYY-MM-DD).`);
    // "to" is the last day shown, whole: the query stops at the start of the next day.
    else narrowing[name] = name === 'to' ? new Date(day.getTime() + 86_400_000) : day;
  }
  const q = new URLSearchParams(Object.entries(values).filter(([, v]) => v));
  return { values, narrowing: matchesNothing ? null : narrowing, errors, query: q.size ? `?${q.toString()}` : '' };
}

/** CSV cell: quoted, and a leading =, +, - or @ defused so that a spreadsheet never runs a name as a formula. */
function csvCell(value: string | null): string {
  const v = value ?? '';
  return `"${(/^[=+\-@\t\r]/.test(v) ? `'${v}` : v).replace(/"/g, '""')}"`;
}

const EXPORT_COLUMNS = ['at', 'action', 'actor', 'who', 'accountId', 'environmentId', 'environmentName', 'keypairId', 'keypairName', 'sentence', 'details'] as const;

function exportRecord(e: DescribedEvent) {
  return { at: e.at, action: e.action, actor: e.actor, who: e.who, accountId: e.accountId, environmentId: e.environmentId, environmentName: e.environmentName, keypairId: e.keypairId, keypairName: e.keypairName, sentence: e.sentence, details: e.details };
}

/** /ui/accounts/:id/audit, /ui/environments/:id/audit and /ui/keypairs/:keyId/audit. */
export function auditRoutes(router: Router, deps: UiDeps): void {
  const { domain } = deps;
  const base = pageBase(domain);
  const ownerFilter = (kind: string, page: OwnerPage) => (kind === 'account' ? { accountId: page.account.id } : { environmentId: page.environment!.id });

  for (const [kind, path] of OWNER_PATHS) {
    router.get(`${path}/audit`, signedIn, async (ctx) => {
      const page = await authorizeOwner(ctx, domain, kind, 'audit.read');
      const cursor = auditCursor(ctx);
      const filters = await auditFilters(ctx, deps);
      const events = filters.narrowing
        ? await domain.audit.page({ ...ownerFilter(kind, page), ...filters.narrowing }, { limit: 50, ...(cursor ? { cursor } : {}) })
        : { items: [], nextCursor: null };
      const here = `${page.base}/audit`;
      const join = filters.query ? '&' : '?';
      render(ctx, 'audit', {
        ...base(ctx, `Audit trail · ${page.name}`, [...page.crumbs, { label: 'Audit trail' }]),
        page, section: 'audit',
        subject: kind === 'account' ? 'account and its environments' : 'environment',
        events: await describeEvents(domain, events.items),
        showEnvironment: kind === 'account',
        filters, actions: AUDIT_ACTIONS, exportMax: AUDIT_EXPORT_MAX,
        here,
        csvHref: `${here}.csv${filters.query}`,
        jsonlHref: `${here}.jsonl${filters.query}`,
        nextHref: events.nextCursor ? `${here}${filters.query}${join}cursor=${encodeURIComponent(events.nextCursor)}` : null,
        firstHref: cursor ? `${here}${filters.query}` : null,
      }, { status: filters.errors.length ? 400 : 200 });
    });

    for (const format of ['csv', 'jsonl'] as const) {
      router.get(`${path}/audit.${format}`, signedIn, async (ctx) => {
        const page = await authorizeOwner(ctx, domain, kind, 'audit.read');
        const filters = await auditFilters(ctx, deps);
        if (filters.errors.length) {
          ctx.status = 400;
          ctx.type = 'text/plain; charset=utf-8';
          ctx.body = `${filters.errors.join('\n')}\n`;
          return;
        }
        const events = filters.narrowing
          ? await domain.audit.page({ ...ownerFilter(kind, page), ...filters.narrowing }, { limit: AUDIT_EXPORT_MAX })
          : { items: [], nextCursor: null };
        const rows = (await describeEvents(domain, events.items)).map(exportRecord);
        const stamp = domain.clock.now().toISOString().slice(0, 10);
        ctx.set('Cache-Control', 'no-store');
        ctx.set('Content-Disposition', `attachment; filename="keyport-audit-${kind === 'account' ? page.account.id : page.environment!.id}-${stamp}.${format}"`);
        // More events matched than one export holds: say so in a header (the newest are in the file).
        if (events.nextCursor) ctx.set('Keyport-Export-Truncated', `only the newest ${AUDIT_EXPORT_MAX} events`);
        if (format === 'csv') {
          ctx.type = 'text/csv; charset=utf-8';
          ctx.body = [EXPORT_COLUMNS.join(','), ...rows.map((r) => EXPORT_COLUMNS.map((c) => csvCell(c === 'details' ? JSON.stringify(r.details) : r[c])).join(','))].join('\r\n') + '\r\n';
        } else {
          ctx.type = 'application/x-ndjson; charset=utf-8';
          ctx.body = rows.map((r) => JSON.stringify(r)).join('\n') + (rows.length ? '\n' : '');
        }
      });
    }
  }

  // Also for a removed keypair: its trail stays, for those who may read its former owner's.
  router.get('/keypairs/:keyId/audit', signedIn, async (ctx) => {
    const keyId = checkId('keyId', ctx.params.keyId);
    const { access } = me(ctx);
    const { target, keypair, removedKeypair } = await domain.access.authorize(access, 'audit.read', { keyId });
    const page = await ownerPage(domain, access, target);
    const name = keypair?.name ?? removedKeypair!.name;
    const cursor = auditCursor(ctx);
    const events = await domain.audit.page({ keypairId: keyId }, { limit: 50, ...(cursor ? { cursor } : {}) });
    const here = `${UI_PREFIX}/keypairs/${keyId}/audit`;
    const crumbs = keypair
      ? keypairCrumbs(page, keypair, 'Audit trail')
      : [...page.crumbs, { label: 'API management', href: `${page.base}/keypairs` }, { label: `${name} (removed)` }, { label: 'Audit trail' }];
    render(ctx, 'audit', {
      ...base(ctx, `Audit trail · ${name}`, crumbs),
      page, section: 'access',
      subject: keypair ? `keypair ${name}` : `keypair ${name} (${keyId}), which was removed`,
      events: await describeEvents(domain, events.items),
      showEnvironment: false,
      filters: null,
      nextHref: events.nextCursor ? `${here}?cursor=${encodeURIComponent(events.nextCursor)}` : null,
      firstHref: cursor ? here : null,
    });
  });
}
