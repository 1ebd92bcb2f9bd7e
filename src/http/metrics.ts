// Prometheus metrics (GET /metrics): token requests by outcome, their latency, lockouts, database restarts.
import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export class Metrics {
  readonly registry = new Registry();
  readonly tokenRequests = new Counter({
    name: 'keyport_token_requests_total',
    help: 'Token endpoint requests by outcome (issued, or the OAuth error code)',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });
  readonly tokenLatency = new Histogram({
    name: 'keyport_token_request_duration_seconds',
    help: 'Token endpoint latency',
    buckets: [0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1],
    registers: [this.registry],
  });
  readonly authenticationFailures = new Counter({
    name: 'keyport_client_authentication_failures_total',
    help: 'Failed keypair authentications by reason',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });
  readonly databaseRestarts = new Counter({
    name: 'keyport_database_restarts_total',
    help: 'Times Keyport started the embedded database (FerretDB) again after it exited unexpectedly',
    registers: [this.registry],
  });

  /** The counter for each outcome, looked up once (inc() with a label object hashes it on every call). */
  readonly #byOutcome = new Map<string, { inc(): void }>();

  constructor(options: { defaultMetrics?: boolean } = {}) {
    if (options.defaultMetrics) collectDefaultMetrics({ register: this.registry });
  }

  /** One token request: its outcome (`issued`, or the OAuth error code) and how long it took. */
  tokenRequest(outcome: string, seconds: number): void {
    let counter = this.#byOutcome.get(outcome);
    if (!counter) {
      counter = this.tokenRequests.labels(outcome);
      this.#byOutcome.set(outcome, counter);
    }
    counter.inc();
    this.tokenLatency.observe(seconds);
  }
}
