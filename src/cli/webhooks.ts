// The webhook commands: an account's endpoints and their delivery logs. A
// running server delivers what the CLI's changes queue (the queue is in the database).
import type { Command } from 'commander';
import type { WebhookDeliveryView, WebhookEndpointView } from '../domain/webhooks.ts';
import { UsageError } from './errors.ts';
import { fields, table, when } from './output.ts';
import type { Runner } from './session.ts';

function endpointTable(items: WebhookEndpointView[]): string {
  if (!items.length) return 'No webhook endpoints.\n';
  return table(['ID', 'URL', 'SECRET', 'CREATED', 'DESCRIPTION'], items.map((e) => [e.id, e.url, e.secretHint, when(e.createdAt), e.description || '-']));
}

function outcomeOf(d: WebhookDeliveryView): string {
  if (d.lastResponseStatus !== null) return `HTTP ${d.lastResponseStatus}`;
  return d.lastError ?? '-';
}

function deliveryTable(items: WebhookDeliveryView[]): string {
  if (!items.length) return 'No deliveries yet.\n';
  return table(['DELIVERY', 'EVENT', 'STATUS', 'ATTEMPTS', 'LAST ANSWER', 'NEXT ATTEMPT', 'CREATED'], items.map((d) => [
    d.id, d.type, d.status, String(d.attempts), outcomeOf(d), when(d.nextAttemptAt), when(d.createdAt),
  ]));
}

export function registerWebhookCommands(program: Command, run: Runner): void {
  const webhook = program.command('webhook')
    .summary('webhook endpoints: add, list, remove, deliveries, redeliver')
    .description([
      'Manage an account\'s webhook endpoints. Every keypair event of the account and its environments',
      '(created, rotated, regenerated, disabled, enabled, removed, locked, expiring, expired, ...) is POSTed',
      'to each endpoint, signed: Keyport-Signature: t=<unix>,v1=<HMAC-SHA-256(secret, "<t>.<body>")>.',
      'Check it with verifyWebhook() from keyport/verify. Failed deliveries are retried for 24 hours.',
    ].join('\n'));

  webhook.command('add')
    .description('add an endpoint and print its signing secret (once)')
    .requiredOption('--account <id>', 'the account whose events it receives (acc_…)')
    .requiredOption('--url <url>', 'where to POST the events: https:// on a public address')
    .option('--description <text>', 'free text for administrators')
    .action((options: { account: string; url: string; description?: string }, command: Command) => run(command, async (s) => {
      const account = await s.domain.owners.getAccount(options.account);
      const { endpoint, secret } = await s.domain.webhooks.create(account.id, { url: options.url, ...(options.description !== undefined ? { description: options.description } : {}) }, 'cli');
      s.print({ webhook: endpoint, secret }, () => `Added webhook endpoint ${endpoint.id} for ${endpoint.url}.\n\n${fields([['id', endpoint.id], ['signing secret', secret]])}\n`);
      s.note('Store the signing secret now: it is shown only this once. The receiver checks each request with it (verifyWebhook in keyport/verify).');
    }));

  webhook.command('list')
    .description('list an account\'s endpoints')
    .requiredOption('--account <id>', 'the account (acc_…)')
    .action((options: { account: string }, command: Command) => run(command, async (s) => {
      const account = await s.domain.owners.getAccount(options.account);
      const items = await s.domain.webhooks.list(account.id);
      s.print(items, () => endpointTable(items));
    }));

  webhook.command('remove <webhookId>')
    .description('remove an endpoint with its delivery log (deliveries not yet made are dropped)')
    .option('--yes', 'confirm: removal cannot be undone')
    .action((webhookId: string, options: { yes?: boolean }, command: Command) => {
      if (!options.yes) throw new UsageError(`removing ${webhookId} drops its delivery log and cannot be undone: add --yes to confirm`);
      return run(command, async (s) => {
        await s.domain.webhooks.remove(webhookId, 'cli');
        s.print({ webhookId, removed: true }, () => `Webhook endpoint ${webhookId} removed.\n`);
      });
    });

  webhook.command('deliveries <webhookId>')
    .description('the delivery log of an endpoint, newest first')
    .option('--limit <n>', 'how many (1 to 200, default 50)', '50')
    .action((webhookId: string, options: { limit: string }, command: Command) => {
      const limit = Number(options.limit);
      if (!Number.isInteger(limit) || limit < 1 || limit > 200) throw new UsageError('--limit must be a whole number from 1 to 200');
      return run(command, async (s) => {
        await s.domain.webhooks.get(webhookId);
        const page = await s.domain.webhooks.deliveries(webhookId, { limit });
        s.print(page.items, () => deliveryTable(page.items));
      });
    });

  webhook.command('redeliver <webhookId> <deliveryId>')
    .description('send a delivery\'s event again, as a new delivery (same event id, fresh signature), whatever became of the first; a running server sends it within a poll')
    .action((webhookId: string, deliveryId: string, _options: unknown, command: Command) => run(command, async (s) => {
      const delivery = await s.domain.webhooks.redeliver(webhookId, deliveryId, 'cli');
      s.print(delivery, () => `Queued ${delivery.id}: event ${delivery.eventId} (${delivery.type}) again.\n`);
    }));
}
