// OpenTelemetry traces (src/tracing.ts): off unless the OTEL_* variables turn
// them on; when on, a token request is one server span with the keypair lookup,
// the secret check, the signature and the database commands beneath it, and an
// admin API request is named after its route. No secret and no token in any
// attribute. Spans are collected with the SDK's in-memory exporter.
import { InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from '@opentelemetry/sdk-trace';
import anyTest, { type TestFn } from 'ava';
import { startTracing, tracesRequested } from '../src/tracing.ts';
import { startTestKeyport, type TestKeyport } from './helpers/keyport.ts';
import { getToken, seedKeypair, tokenRequest } from './helpers/oauth.ts';

const test = anyTest.serial as TestFn<{ kp: TestKeyport; exporter: InMemorySpanExporter }>;

test.before(async (t) => {
  const exporter = new InMemorySpanExporter();
  const tracing = startTracing({}, { spanProcessor: new SimpleSpanProcessor({ exporter }) })!;
  t.context.exporter = exporter;
  t.context.kp = await startTestKeyport({ tracing });
});
test.after.always(async (t) => {
  await t.context.kp?.close();
});

/** Waits for the request's server span (ended when the response finished, just after the client got it). */
async function serverSpan(exporter: InMemorySpanExporter, name: string): Promise<ReadableSpan> {
  for (let i = 0; i < 100; i++) {
    const span = exporter.getFinishedSpans().find((s) => s.name === name);
    if (span) return span;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error(`no span named ${name}: ${exporter.getFinishedSpans().map((s) => s.name).join(', ')}`);
}

const descendants = (spans: ReadableSpan[], root: ReadableSpan): ReadableSpan[] => {
  const children = spans.filter((s) => s.parentSpanContext?.spanId === root.spanContext().spanId);
  return children.flatMap((child) => [child, ...descendants(spans, child)]);
};

/** Every attribute value of every span, as text: where a secret or token must never appear. */
const everyValue = (spans: ReadableSpan[]) => spans.flatMap((s) => [s.name, ...Object.values(s.attributes).map(String), ...s.events.map((e) => e.name)]).join('\n');

test('the OTEL_* variables decide: off by default, on for an exporter or an endpoint, off when disabled', (t) => {
  t.false(tracesRequested({}));
  t.true(tracesRequested({ OTEL_TRACES_EXPORTER: 'otlp' }));
  t.true(tracesRequested({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318' }));
  t.true(tracesRequested({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://collector:4318/v1/traces' }));
  t.false(tracesRequested({ OTEL_TRACES_EXPORTER: 'none', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318' }));
  t.false(tracesRequested({ OTEL_SDK_DISABLED: 'true', OTEL_TRACES_EXPORTER: 'otlp' }));
  t.is(startTracing({}), null);
});

test('a token request is one server span with the lookup, the secret check and the signature beneath it, and no secret or token in any attribute', async (t) => {
  const { kp, exporter } = t.context;
  const key = await seedKeypair(kp.keyport);
  // A cold cache: the lookup reads the database, so a database span shows under it.
  kp.keyport.domain.changes.applyHere('keypair', key.keyId);
  exporter.reset();
  const traceparent = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
  const response = await tokenRequest(kp.url, { ...key, extra: {} });
  const { access_token: token } = await response.json() as { access_token: string };
  t.is(response.status, 200);
  const root = await serverSpan(exporter, 'POST /oauth/token');
  const spans = exporter.getFinishedSpans();
  t.is(root.attributes['http.response.status_code'], 200);
  const below = descendants(spans, root);
  const names = below.map((s) => s.name);
  t.true(names.includes('keypair.lookup'), names.join(', '));
  t.true(names.includes('keypair.authenticate'), names.join(', '));
  t.true(names.includes('sign'), names.join(', '));
  t.true(below.some((s) => s.attributes['db.system.name'] === 'mongodb' && s.attributes['db.collection.name'] === 'keypairs'), `a database span under the request: ${names.join(', ')}`);
  t.is(below.find((s) => s.name === 'keypair.authenticate')!.attributes['keyport.key_id'], key.keyId);
  t.is(below.find((s) => s.name === 'keypair.authenticate')!.attributes['keyport.authenticated'], true);
  const text = everyValue(spans);
  t.false(text.includes(key.secret), 'no secret in any span');
  t.false(text.includes(token), 'no token in any span');
  t.false(text.includes(token.split('.')[2]!), 'not even the token\'s signature');

  // A caller's trace context is joined.
  exporter.reset();
  await fetch(`${kp.url}/oauth/token`, {
    method: 'POST',
    headers: { traceparent, authorization: `Basic ${Buffer.from(`${key.keyId}:${key.secret}`).toString('base64')}`, 'content-type': 'application/x-www-form-urlencoded' },
    body: 'grant_type=client_credentials',
  });
  const joined = await serverSpan(exporter, 'POST /oauth/token');
  t.is(joined.spanContext().traceId, '4bf92f3577b34da6a3ce929d0e0e4736');
});

test('a wrong secret shows as a failed check with its reason, and the secret presented is nowhere', async (t) => {
  const { kp, exporter } = t.context;
  const key = await seedKeypair(kp.keyport);
  const other = await seedKeypair(kp.keyport);
  exporter.reset();
  t.is((await tokenRequest(kp.url, { keyId: key.keyId, secret: other.secret })).status, 401);
  const root = await serverSpan(exporter, 'POST /oauth/token');
  t.is(root.attributes['http.response.status_code'], 401);
  const check = descendants(exporter.getFinishedSpans(), root).find((s) => s.name === 'keypair.authenticate');
  t.is(check?.attributes['keyport.failure'], 'wrong_secret');
  t.false(everyValue(exporter.getFinishedSpans()).includes(other.secret));
});

test('an admin API request is named after its route, without ids', async (t) => {
  const { kp, exporter } = t.context;
  const key = await seedKeypair(kp.keyport, { owner: 'account', scopes: ['keyport:read'] });
  const token = await getToken(kp.url, { ...key, scope: 'keyport:read', resource: 'urn:keyport:admin-api' });
  exporter.reset();
  const response = await fetch(`${kp.url}/api/v1/keypairs/${key.keyId}`, { headers: { authorization: `Bearer ${token}` } });
  t.is(response.status, 200);
  const span = await serverSpan(exporter, 'GET /api/v1/keypairs/:keyId');
  t.is(span.attributes['http.response.status_code'], 200);
  t.false(everyValue(exporter.getFinishedSpans()).includes(token));
});
