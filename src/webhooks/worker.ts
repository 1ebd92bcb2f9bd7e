// The webhook delivery worker, in every server process; one of them delivers
// at a time (a lease in the database, renewed at every poll, taken over when
// its holder stops renewing it). It sends the due deliveries of the outbox
// (src/domain/webhooks.ts): one request at a time per endpoint, up to
// webhooks.maxConcurrent endpoints at once, each within webhooks.timeoutMs, so
// that a dead or slow endpoint holds up only its own deliveries. It runs on
// its own timers: nothing here is on a request's path.
import { randomUUID } from 'node:crypto';
import type { KeyportConfig } from '../config.ts';
import type { DueDelivery, WebhookService } from '../domain/webhooks.ts';
import { SIGNATURE_HEADER, webhookSignature } from '../domain/webhook-signature.ts';
import type { Logger } from '../log.ts';
import { sendWebhook } from './send.ts';

/** The lease lasts this long without renewal (wall clock): a stopped holder is replaced after it. */
const LEASE_MS = 30_000;

export class WebhookWorker {
  readonly #webhooks: WebhookService;
  readonly #settings: KeyportConfig['webhooks'];
  readonly #log: Logger;
  readonly #holder = randomUUID();
  /** Endpoint id → its attempt in flight. */
  readonly #inFlight = new Map<string, Promise<void>>();
  readonly #abort = new AbortController();
  #timer: NodeJS.Timeout | null = null;
  #running: Promise<void> | null = null;
  #again = false;
  #stopped = false;
  #leader = false;
  #unsubscribe: () => void = () => {};

  constructor(deps: { webhooks: WebhookService; settings: KeyportConfig['webhooks']; log: Logger }) {
    this.#webhooks = deps.webhooks;
    this.#settings = deps.settings;
    this.#log = deps.log;
  }

  start(): void {
    this.#unsubscribe = this.#webhooks.onEnqueued(() => this.kick());
    this.#schedule(0);
  }

  /** Looks for due deliveries now (an event was queued, an attempt ended). */
  kick(): void {
    if (this.#stopped) return;
    if (this.#running) {
      this.#again = true;
      return;
    }
    this.#schedule(0);
  }

  /** Stops delivering: attempts in flight are cut off and stay pending (sent again after a restart); the lease is released. */
  async stop(): Promise<void> {
    this.#stopped = true;
    this.#unsubscribe();
    if (this.#timer) clearTimeout(this.#timer);
    this.#abort.abort();
    await this.#running;
    await Promise.allSettled(this.#inFlight.values());
    if (this.#leader) await this.#webhooks.releaseWorkerLease(this.#holder).catch(() => { /* it expires on its own */ });
  }

  #schedule(delayMs: number): void {
    if (this.#stopped) return;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = setTimeout(() => {
      this.#timer = null;
      this.#running = this.#tick().finally(() => {
        this.#running = null;
        if (this.#again) {
          this.#again = false;
          this.#schedule(0);
        } else if (!this.#timer) this.#schedule(this.#settings.pollMs);
      });
    }, delayMs);
    this.#timer.unref();
  }

  async #tick(): Promise<void> {
    try {
      this.#leader = await this.#webhooks.holdWorkerLease(this.#holder, new Date(Date.now() + LEASE_MS));
      if (!this.#leader) return;
      // Events recorded with the webhook mark whose deliveries were not written then (a crash or an error in between).
      await this.#webhooks.queuePending();
      while (!this.#stopped && this.#inFlight.size < this.#settings.maxConcurrent) {
        const due = await this.#webhooks.nextDue([...this.#inFlight.keys()]);
        if (!due) break;
        const endpointId = due.delivery.endpointId;
        this.#inFlight.set(endpointId, this.#attempt(due).finally(() => {
          this.#inFlight.delete(endpointId);
          this.kick();
        }));
      }
    } catch (err) {
      this.#log.warn({ err: { message: err instanceof Error ? err.message : String(err) } }, 'webhook deliveries: cannot read the queue');
    }
  }

  async #attempt({ delivery, url, secret }: DueDelivery): Promise<void> {
    const timestamp = Math.floor(Date.now() / 1000);
    const headers = {
      [SIGNATURE_HEADER]: webhookSignature(secret, timestamp, delivery.body),
      'Keyport-Event-Id': delivery.eventId,
      'Keyport-Event-Type': delivery.type,
      'Keyport-Delivery-Id': delivery._id,
    };
    const outcome = await sendWebhook(url, headers, delivery.body, { policy: this.#settings, timeoutMs: this.#settings.timeoutMs, signal: this.#abort.signal });
    // Cut off by a stop: not the receiver's fault, and not counted; it stays due.
    if (this.#stopped) return;
    try {
      const status = await this.#webhooks.recordAttempt(delivery, outcome);
      if (status !== 'delivered') {
        this.#log.info({ deliveryId: delivery._id, endpointId: delivery.endpointId, type: delivery.type, outcome, status }, 'webhook delivery attempt failed');
      }
    } catch (err) {
      this.#log.warn({ deliveryId: delivery._id, err: { message: err instanceof Error ? err.message : String(err) } }, 'webhook deliveries: cannot record an attempt');
    }
  }
}
