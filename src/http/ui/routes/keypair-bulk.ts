// Bulk actions on the keypair list: the list's checkboxes post the selected ids
// here (a plain form, no JavaScript needed); one confirmation page lists them by
// name and key id; the confirmed form runs the action (domain/keypair-bulk.ts,
// which checks and audits each keypair) and the answer says, per keypair, what
// was done or why it was skipped.
import type Router from '@koa/router';
import { DomainError } from '../../../domain/errors.ts';
import { BULK_ACTIONS, BULK_MAX, type BulkAction } from '../../../domain/keypair-bulk.ts';
import { authorizeOwner, OWNER_PATHS, type OwnerPage, type RoutedContext } from '../owner-page.ts';
import { capitalize, field, fields, form, me, pageBase, signedIn, UiError, type UiDeps } from '../page-helpers.ts';
import { render } from '../render.ts';

/** What a remove must be confirmed with: as deliberate as typing a keypair's name for one. */
export const removePhrase = (count: number) => `remove ${count} keypair${count === 1 ? '' : 's'}`;

/** The posted key ids, as sent (a page of the list holds up to 100); a larger selection than BULK_MAX is refused, not cut. */
const postedKeyIds = (ctx: RoutedContext): string[] => fields(form(ctx), 'keyId').map((v) => v.slice(0, 200));

export function keypairBulkRoutes(router: Router, deps: UiDeps): void {
  const { domain } = deps;
  const base = pageBase(domain);
  const crumbs = (page: OwnerPage, last: string) => [...page.crumbs, { label: 'API management', href: `${page.base}/keypairs` }, { label: last }];

  /** The action and the selection of a bulk form; a bad one is a 400 page, and nothing changes. */
  const selectionOf = (ctx: RoutedContext, page: OwnerPage): { action: BulkAction; keyIds: string[] } => {
    const action = BULK_ACTIONS.find((a) => a === field(form(ctx), 'action', 20));
    const back = { href: `${page.base}/keypairs`, label: `Back to API management (${page.name})` };
    if (!action) throw new UiError(400, 'Not valid', 'Choose Disable selected or Remove selected.', back);
    const keyIds = [...new Set(postedKeyIds(ctx))];
    if (!keyIds.length) throw new UiError(400, 'Nothing selected', 'Tick the keypairs to act on in the list first.', back);
    if (keyIds.length > BULK_MAX) throw new UiError(400, 'Too many keypairs', `Select at most ${BULK_MAX} keypairs at a time.`, back);
    return { action, keyIds };
  };

  const confirmPage = async (ctx: RoutedContext, page: OwnerPage, action: BulkAction, keyIds: string[], extra: { error?: string; status?: number } = {}) => {
    const { acting, skipped } = await domain.keypairBulk.check(me(ctx).access, page.owner, action, keyIds);
    const verb = action === 'disable' ? 'Disable' : 'Remove';
    render(ctx, 'keypair-bulk', {
      ...base(ctx, `${verb} ${acting.length} keypair${acting.length === 1 ? '' : 's'} · ${page.name}`, crumbs(page, `${verb} selected`)),
      page, section: 'access', action, verb, acting, skipped,
      phrase: removePhrase(acting.length),
      error: extra.error ?? null,
    }, { status: extra.status ?? 200 });
  };

  for (const [kind, path] of OWNER_PATHS) {
    // The list's buttons: the confirmation, which changes nothing.
    router.post(`${path}/keypairs/bulk`, signedIn, async (ctx) => {
      const page = await authorizeOwner(ctx, domain, kind, 'keypairs.manage');
      const { action, keyIds } = selectionOf(ctx, page);
      await confirmPage(ctx, page, action, keyIds);
    });

    router.post(`${path}/keypairs/bulk/confirm`, signedIn, async (ctx) => {
      const page = await authorizeOwner(ctx, domain, kind, 'keypairs.manage');
      const { action, keyIds } = selectionOf(ctx, page);
      // Removing is irreversible: typed out with the count, as a single removal types the name.
      if (action === 'remove' && field(form(ctx), 'confirmText', 100).trim() !== removePhrase(keyIds.length)) {
        return confirmPage(ctx, page, action, keyIds, { error: `Type “${removePhrase(keyIds.length)}” exactly to confirm.`, status: 400 });
      }
      let outcomes;
      try {
        outcomes = await domain.keypairBulk.run(me(ctx).access, page.owner, action, keyIds);
      } catch (err) {
        if (err instanceof DomainError && err.code === 'invalid_input') throw new UiError(400, 'Not valid', capitalize(err.message) + '.');
        throw err;
      }
      const done = outcomes.filter((o) => o.outcome === 'done').length;
      const verb = action === 'disable' ? 'disabled' : 'removed';
      render(ctx, 'keypair-bulk-result', {
        ...base(ctx, `${capitalize(verb)} ${done} keypair${done === 1 ? '' : 's'} · ${page.name}`, crumbs(page, action === 'disable' ? 'Disabled' : 'Removed')),
        page, section: 'access', action, verb, done, outcomes,
      });
    });
  }
}
