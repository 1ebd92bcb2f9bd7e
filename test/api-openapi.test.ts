// The OpenAPI document matches the routes: every registered route is in it, and nothing else.
import test from 'ava';
import { createApiRouter, ROUTES } from '../src/http/api/routes.ts';
import { openApiPath } from '../src/http/api/openapi.ts';
import type { Domain } from '../src/domain/index.ts';
import type { AccessTokenVerifier } from '../src/oauth/access-tokens.ts';
import type { SignInFlow } from '../src/http/session/sign-in.ts';
import { startTestKeyport, type TestKeyport } from './helpers/keyport.ts';

let tk: TestKeyport;

test.before(async () => {
  tk = await startTestKeyport();
});
test.after.always(async () => {
  await tk?.close();
});

test('GET /api/v1/openapi.json documents every registered route, and only those', async (t) => {
  const res = await fetch(`${tk.url}/api/v1/openapi.json`);
  t.is(res.status, 200);
  const doc = await res.json() as { openapi: string; paths: Record<string, Record<string, { operationId: string; responses: Record<string, unknown> }>> };
  t.is(doc.openapi, '3.1.0');

  // The routes as the router registered them (handlers are never called here).
  const router = createApiRouter({ domain: {} as Domain, verifier: {} as AccessTokenVerifier, signIn: {} as SignInFlow });
  const registered = new Set<string>();
  for (const layer of router.stack) {
    for (const method of layer.methods) {
      if (method === 'HEAD') continue;
      registered.add(`${method.toLowerCase()} ${openApiPath(String(layer.path))}`);
    }
  }
  const documented = new Set<string>();
  for (const [path, operations] of Object.entries(doc.paths)) {
    for (const method of Object.keys(operations)) documented.add(`${method} ${path}`);
  }
  t.true(registered.size >= 30);
  t.deepEqual([...registered].sort(), [...documented].sort());

  const ids = Object.values(doc.paths).flatMap((ops) => Object.values(ops).map((op) => op.operationId));
  t.is(new Set(ids).size, ids.length, 'operationIds are unique');
  t.is(ids.length, ROUTES.length);
  // Request bodies come from the validation schemas: strict objects.
  const create = doc.paths['/api/v1/accounts/{accountId}/keypairs']!.post as unknown as { requestBody: { content: { 'application/json': { schema: { additionalProperties: boolean; required: string[] } } } } };
  t.is(create.requestBody.content['application/json'].schema.additionalProperties, false);
  t.deepEqual(create.requestBody.content['application/json'].schema.required, ['name']);
});
