// An account's webhooks: its endpoints (add, with the signing secret shown
// once in the POST answer; remove) and each endpoint's delivery log with
// redeliver. Account admins only (the policy's webhooks.read / webhooks.manage).
import type Router from '@koa/router';
import type { Context } from 'koa';
import { DomainError } from '../../../domain/errors.ts';
import { WEBHOOK_DESCRIPTION_MAX } from '../../../domain/webhooks.ts';
import { WEBHOOK_URL_MAX } from '../../../domain/webhook-urls.ts';
import { authorizeOwner, ownerPage, type OwnerPage, type RoutedContext } from '../owner-page.ts';
import { capitalize, checkId, field, flash, form, me, notFound, onceToken, pageBase, seeOther, signedIn, spend, UI_PREFIX, type UiDeps } from '../page-helpers.ts';
import { render } from '../render.ts';

const LOG_SIZE = 50;

export function webhookRoutes(router: Router, deps: UiDeps): void {
  const { domain } = deps;
  const base = pageBase(domain);

  const listPage = async (ctx: Context, page: OwnerPage, extra: { error?: string; values?: { url: string; description: string }; status?: number } = {}) => {
    render(ctx, 'webhooks', {
      ...base(ctx, `Webhooks · ${page.name}`, [...page.crumbs, { label: 'Webhooks' }]),
      page, section: 'webhooks',
      webhooks: await domain.webhooks.list(page.account.id),
      mayManage: page.active && page.role === 'admin',
      values: extra.values ?? { url: '', description: '' },
      error: extra.error ?? null,
      once: onceToken(),
      limits: { WEBHOOK_URL_MAX, WEBHOOK_DESCRIPTION_MAX },
    }, { status: extra.status ?? 200 });
  };

  router.get('/accounts/:id/webhooks', signedIn, async (ctx) => {
    await listPage(ctx, await authorizeOwner(ctx, domain, 'account', 'webhooks.read'));
  });

  router.post('/accounts/:id/webhooks', signedIn, async (ctx) => {
    const page = await authorizeOwner(ctx, domain, 'account', 'webhooks.manage');
    const f = form(ctx);
    const values = { url: field(f, 'url', WEBHOOK_URL_MAX + 10).trim(), description: field(f, 'description', WEBHOOK_DESCRIPTION_MAX + 10) };
    if (!spend(ctx, field(f, 'once', 100))) {
      flash(ctx, 'That form was sent already: the endpoint was added then, and its secret shown once.');
      return seeOther(ctx, `${page.base}/webhooks`);
    }
    let added;
    try {
      added = await domain.webhooks.create(page.account.id, values, me(ctx).access.actor);
    } catch (err) {
      if (err instanceof DomainError && err.code === 'invalid_input') return listPage(ctx, page, { error: capitalize(err.message) + '.', values, status: 400 });
      throw err;
    }
    ctx.set('Cache-Control', 'no-store');
    render(ctx, 'webhook-secret', {
      ...base(ctx, `Webhook added · ${page.name}`, [...page.crumbs, { label: 'Webhooks', href: `${page.base}/webhooks` }, { label: 'Webhook added' }]),
      page, section: 'webhooks', webhook: added.endpoint, secret: added.secret,
    });
  });

  /** The endpoint of the path, authorized through its account (one the user may not see is not found). */
  const authorizedWebhook = async (ctx: RoutedContext, action: 'webhooks.read' | 'webhooks.manage') => {
    const webhookId = checkId('webhookId', ctx.params.webhookId);
    const webhook = await domain.webhooks.get(webhookId);
    const { access } = me(ctx);
    const { target } = await domain.access.authorize(access, action, { accountId: webhook.accountId }).catch((err: unknown) => {
      throw err instanceof DomainError && err.code === 'not_found' ? notFound() : err;
    });
    return { webhook, page: await ownerPage(domain, access, target) };
  };

  router.get('/webhooks/:webhookId', signedIn, async (ctx) => {
    const { webhook, page } = await authorizedWebhook(ctx, 'webhooks.read');
    const log = await domain.webhooks.deliveries(webhook.id, { limit: LOG_SIZE });
    render(ctx, 'webhook', {
      ...base(ctx, `${webhook.url} · Webhooks`, [...page.crumbs, { label: 'Webhooks', href: `${page.base}/webhooks` }, { label: webhook.url }]),
      page, section: 'webhooks', webhook, deliveries: log.items, more: log.nextCursor !== null,
      mayManage: page.active && page.role === 'admin',
    });
  });

  router.post('/webhooks/:webhookId/deliveries/:deliveryId/redeliver', signedIn, async (ctx) => {
    const { webhook } = await authorizedWebhook(ctx, 'webhooks.manage');
    const delivery = await domain.webhooks.redeliver(webhook.id, checkId('deliveryId', ctx.params.deliveryId), me(ctx).access.actor);
    flash(ctx, `The ${delivery.type} event is queued again (${delivery.id}).`);
    seeOther(ctx, `${UI_PREFIX}/webhooks/${webhook.id}`);
  });

  router.post('/webhooks/:webhookId/remove', signedIn, async (ctx) => {
    const { webhook, page } = await authorizedWebhook(ctx, 'webhooks.manage');
    await domain.webhooks.remove(webhook.id, me(ctx).access.actor);
    flash(ctx, `Webhook endpoint ${webhook.url} removed.`);
    seeOther(ctx, `${page.base}/webhooks`);
  });
}
