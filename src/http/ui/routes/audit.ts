// The audit trails: an account's (with its environments), an environment's and
// a keypair's, newest first, a page at a time.
import type Router from '@koa/router';
import type { Context } from 'koa';
import { isAuditCursor } from '../../../domain/audit.ts';
import { authorizeOwner, keypairCrumbs, OWNER_PATHS, ownerPage } from '../owner-page.ts';
import { checkId, describeEvents, me, pageBase, signedIn, UI_PREFIX, type UiDeps } from '../page-helpers.ts';
import { render } from '../render.ts';

/** A well-formed audit page cursor from the query string, if any. */
function auditCursor(ctx: Context): string | undefined {
  const cursor = ctx.query.cursor;
  return typeof cursor === 'string' && cursor.length <= 200 && isAuditCursor(cursor) ? cursor : undefined;
}

/** /ui/accounts/:id/audit, /ui/environments/:id/audit and /ui/keypairs/:keyId/audit. */
export function auditRoutes(router: Router, deps: UiDeps): void {
  const { domain } = deps;
  const base = pageBase(domain);

  for (const [kind, path] of OWNER_PATHS) {
    router.get(`${path}/audit`, signedIn, async (ctx) => {
      const page = await authorizeOwner(ctx, domain, kind, 'audit.read');
      const cursor = auditCursor(ctx);
      const filter = kind === 'account' ? { accountId: page.account.id } : { environmentId: page.environment!.id };
      const events = await domain.audit.page(filter, { limit: 50, ...(cursor ? { cursor } : {}) });
      render(ctx, 'audit', {
        ...base(ctx, `Audit trail · ${page.name}`, [...page.crumbs, { label: 'Audit trail' }]),
        page, section: 'audit',
        subject: kind === 'account' ? 'account and its environments' : 'environment',
        events: await describeEvents(domain, events.items),
        nextHref: events.nextCursor ? `${page.base}/audit?cursor=${encodeURIComponent(events.nextCursor)}` : null,
        firstHref: cursor ? `${page.base}/audit` : null,
      });
    });
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
      nextHref: events.nextCursor ? `${here}?cursor=${encodeURIComponent(events.nextCursor)}` : null,
      firstHref: cursor ? here : null,
    });
  });
}
