// OpenTelemetry traces, off by default. Configured by the standard OTEL_*
// variables (https://opentelemetry.io/docs/specs/otel/configuration/sdk-environment-variables/):
// traces are on when OTEL_TRACES_EXPORTER is `otlp` or `console`, or when an
// OTLP endpoint is set (OTEL_EXPORTER_OTLP_ENDPOINT, OTEL_EXPORTER_OTLP_TRACES_ENDPOINT),
// unless OTEL_SDK_DISABLED=true or OTEL_TRACES_EXPORTER=none. The exporter reads
// its own settings (endpoint, headers, timeout) from the same variables.
//
// Spans: one per HTTP request (the token endpoint's named `POST /oauth/token`,
// the admin API's by route), with children for the keypair lookup, the secret
// check, each signature, and each database command. Attributes name what was
// done (key ids, routes, collections, commands), never a secret, a token, a
// password, a query or a request body.
//
// With traces off nothing here runs: every hook is installed at start only
// when they are on, so the token endpoint pays nothing for them (`npm run bench`
// measures both ways).
import { context, propagation, ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, type Span, type Tracer } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BatchSpanProcessor, ConsoleSpanExporter, TracerProvider, type SpanProcessor } from '@opentelemetry/sdk-trace';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { mongo } from 'mongoose';

export interface Tracing {
  tracer: Tracer;
  /** Sends the spans still buffered, then stops. */
  shutdown(): Promise<void>;
}

/** Whether the OTEL_* variables turn traces on. */
export function tracesRequested(env: NodeJS.ProcessEnv): boolean {
  if (env.OTEL_SDK_DISABLED?.toLowerCase() === 'true') return false;
  const exporter = env.OTEL_TRACES_EXPORTER?.trim().toLowerCase();
  if (exporter === 'none') return false;
  return exporter === 'otlp' || exporter === 'console' || !!env.OTEL_EXPORTER_OTLP_ENDPOINT || !!env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT;
}

let contextInstalled = false;

/**
 * Starts tracing when the environment asks for it (or with `spanProcessor`, as
 * the tests do); null when traces are off.
 */
export function startTracing(env: NodeJS.ProcessEnv, options: { spanProcessor?: SpanProcessor; version?: string } = {}): Tracing | null {
  if (!options.spanProcessor && !tracesRequested(env)) return null;
  const processor = options.spanProcessor
    ?? new BatchSpanProcessor({ exporter: env.OTEL_TRACES_EXPORTER?.trim().toLowerCase() === 'console' ? new ConsoleSpanExporter() : new OTLPTraceExporter() });
  const provider = new TracerProvider({
    resource: resourceFromAttributes({ 'service.name': env.OTEL_SERVICE_NAME || 'keyport', ...(options.version ? { 'service.version': options.version } : {}) }),
    spanProcessors: [processor],
  });
  // The context of a request follows its awaits (AsyncLocalStorage); set once per process.
  if (!contextInstalled) {
    context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
    propagation.setGlobalPropagator(new W3CTraceContextPropagator());
    contextInstalled = true;
  }
  return { tracer: provider.getTracer('keyport', options.version), shutdown: () => provider.shutdown() };
}

/** A low-cardinality span name for a request path: ids never go into names. */
function requestSpanName(method: string, path: string): string {
  if (path === '/oauth/token') return `${method} /oauth/token`;
  // The admin API's span is renamed after its route once the router matched (nameRequestSpan).
  return `${method} /${path.split('/').filter(Boolean).slice(0, 2).join('/')}`;
}

/**
 * Wraps the server's request handler: one SERVER span per request, joined to the
 * caller's trace when it sends `traceparent`, ended when the response finishes.
 */
export function traceRequests(tracing: Tracing, handler: (req: IncomingMessage, res: ServerResponse) => void): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    const method = req.method ?? 'GET';
    const path = (req.url ?? '/').split('?', 1)[0]!;
    const parent = propagation.extract(ROOT_CONTEXT, req.headers);
    const span = tracing.tracer.startSpan(requestSpanName(method, path), {
      kind: SpanKind.SERVER,
      attributes: { 'http.request.method': method, 'url.path': path },
    }, parent);
    const end = () => {
      span.setAttribute('http.response.status_code', res.statusCode);
      if (res.statusCode >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
      span.end();
    };
    res.once('finish', end);
    res.once('close', () => { if (!res.writableFinished) end(); });
    context.with(trace.setSpan(parent, span), () => handler(req, res));
  };
}

/** Names the current request's span after the admin API route that matched (`GET /api/v1/keypairs/:keyId`). */
export function nameRequestSpan(method: string, route: string): void {
  trace.getActiveSpan()?.updateName(`${method} ${route}`);
}

/** Runs `work` in a child span of the current one; the span records failures. */
export async function inSpan<T>(tracing: Tracing, name: string, attributes: Record<string, string | number | boolean>, work: (span: Span) => Promise<T>): Promise<T> {
  return tracing.tracer.startActiveSpan(name, { attributes }, async (span) => {
    try {
      return await work(span);
    } catch (err) {
      span.setStatus({ code: SpanStatusCode.ERROR, message: err instanceof Error ? err.name : 'error' });
      throw err;
    } finally {
      span.end();
    }
  });
}

/** The domain calls of the token endpoint that get spans: found on the keypair service and replaced there. */
interface TracedKeypairs {
  findForAuthentication(keyId: string): Promise<unknown>;
  authenticate(keyId: string, secret: string, ...rest: never[]): Promise<{ ok: boolean; reason?: string }>;
}

/**
 * Gives the keypair lookup and the secret check their spans. The service's
 * methods are replaced on this one instance, at start, so that with traces off
 * the token endpoint runs exactly the code it always did. Every argument is
 * passed through; the secret is never recorded: the span holds the key id and
 * the outcome.
 */
export function traceKeypairs(tracing: Tracing, keypairs: TracedKeypairs): void {
  const find = keypairs.findForAuthentication.bind(keypairs);
  const authenticate = keypairs.authenticate.bind(keypairs);
  keypairs.findForAuthentication = (keyId) => inSpan(tracing, 'keypair.lookup', { 'keyport.key_id': keyId }, async (span) => {
    const found = await find(keyId);
    span.setAttribute('keyport.found', found !== null);
    return found;
  });
  keypairs.authenticate = (keyId, secret, ...rest) => inSpan(tracing, 'keypair.authenticate', { 'keyport.key_id': keyId }, async (span) => {
    const result = await authenticate(keyId, secret, ...rest);
    span.setAttribute('keyport.authenticated', result.ok);
    if (!result.ok && result.reason) span.setAttribute('keyport.failure', result.reason);
    return result;
  });
}

/**
 * A span for each signature made through WebCrypto (jose signs tokens, the
 * revocation feed and the like with crypto.subtle.sign): the algorithm only.
 */
export function traceSigning(tracing: Tracing): void {
  const subtle = globalThis.crypto.subtle;
  type Sign = typeof subtle.sign;
  const sign: Sign = subtle.sign.bind(subtle);
  subtle.sign = ((...args: Parameters<Sign>) => {
    const algorithm = args[0];
    return inSpan(tracing, 'sign', { 'keyport.signature.algorithm': typeof algorithm === 'string' ? algorithm : algorithm.name }, () => sign(...args));
  });
}

/**
 * A CLIENT span for each database command, from the driver's command monitoring
 * (the connection is opened with monitorCommands when traces are on): the
 * command's name, collection and database, never its contents.
 */
export function traceDatabase(tracing: Tracing, client: mongo.MongoClient): void {
  const open = new Map<number, Span>();
  client.on('commandStarted', (event) => {
    const target = (event.command as Record<string, unknown>)[event.commandName];
    const span = tracing.tracer.startSpan(`${event.commandName}${typeof target === 'string' ? ` ${target}` : ''}`, {
      kind: SpanKind.CLIENT,
      attributes: {
        'db.system.name': 'mongodb',
        'db.operation.name': event.commandName,
        'db.namespace': event.databaseName,
        ...(typeof target === 'string' ? { 'db.collection.name': target } : {}),
      },
    });
    open.set(event.requestId, span);
  });
  const finish = (requestId: number, failed: boolean) => {
    const span = open.get(requestId);
    if (!span) return;
    open.delete(requestId);
    if (failed) span.setStatus({ code: SpanStatusCode.ERROR });
    span.end();
  };
  client.on('commandSucceeded', (event) => finish(event.requestId, false));
  client.on('commandFailed', (event) => finish(event.requestId, true));
}
