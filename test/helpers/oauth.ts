// Small HTTP helpers for OAuth requests in tests.
import type { RunningKeyport } from '../../src/keyport.ts';

export function basic(id: string, secret: string): string {
  const enc = (s: string) => encodeURIComponent(s);
  return `Basic ${Buffer.from(`${enc(id)}:${enc(secret)}`).toString('base64')}`;
}

export interface TokenRequest {
  keyId: string;
  secret: string;
  method?: 'basic' | 'post';
  scope?: string;
  resource?: string;
  extra?: Record<string, string>;
}

export function tokenRequest(url: string, request: TokenRequest): Promise<Response> {
  const form = new URLSearchParams({ grant_type: 'client_credentials', ...request.extra });
  const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded' };
  if (request.method === 'post') {
    form.set('client_id', request.keyId);
    form.set('client_secret', request.secret);
  } else {
    headers.authorization = basic(request.keyId, request.secret);
  }
  if (request.scope !== undefined) form.set('scope', request.scope);
  if (request.resource !== undefined) form.set('resource', request.resource);
  return fetch(`${url}/oauth/token`, { method: 'POST', headers, body: form });
}

export async function getToken(url: string, request: TokenRequest): Promise<string> {
  const response = await tokenRequest(url, request);
  const body = await response.json() as { access_token?: string };
  if (response.status !== 200 || !body.access_token) throw new Error(`token request failed: ${response.status} ${JSON.stringify(body)}`);
  return body.access_token;
}

export async function introspect(url: string, caller: { keyId: string; secret: string }, token: string): Promise<Record<string, unknown>> {
  const response = await fetch(`${url}/oauth/introspect`, {
    method: 'POST',
    headers: { authorization: basic(caller.keyId, caller.secret), 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ token }),
  });
  if (response.status !== 200) throw new Error(`introspection failed: ${response.status} ${await response.text()}`);
  return response.json() as Promise<Record<string, unknown>>;
}

/** An account, an environment, and a keypair owned by one of them, made through the domain. */
export async function seedKeypair(keyport: RunningKeyport, options: { owner?: 'account' | 'environment'; scopes?: string[]; name?: string } = {}) {
  const { owners, keypairs } = keyport.domain;
  const account = await owners.createAccount({ name: 'Acme' }, 'system');
  const environment = await owners.createEnvironment(account.id, { name: 'production' }, 'system');
  const ownerRef = options.owner === 'account' ? { accountId: account.id } : { environmentId: environment.id };
  const issued = await keypairs.create(ownerRef, { name: options.name ?? 'ci', scopes: options.scopes ?? ['orders:read', 'orders:write'] }, 'system');
  return { accountId: account.id, environmentId: environment.id, keyId: issued.keypair.keyId, secret: issued.secret };
}
