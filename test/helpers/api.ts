// A small client for the admin REST API in tests: session (cookie + CSRF) or bearer.
import type { Owner } from '../../src/domain/owners.ts';
import type { RunningKeyport } from '../../src/keyport.ts';

export const PASSWORD = 'correct horse battery staple';

export interface ApiResponse<T = any> { // eslint-disable-line @typescript-eslint/no-explicit-any
  status: number;
  body: T;
  headers: Headers;
}

export class ApiClient {
  readonly url: string;
  cookie: string | null;
  csrf: string | null;
  bearer: string | null;

  constructor(url: string, options: { cookie?: string | null; csrf?: string | null; bearer?: string | null } = {}) {
    this.url = url;
    this.cookie = options.cookie ?? null;
    this.csrf = options.csrf ?? null;
    this.bearer = options.bearer ?? null;
  }

  static anonymous(url: string): ApiClient {
    return new ApiClient(url);
  }

  static withToken(url: string, token: string): ApiClient {
    return new ApiClient(url, { bearer: token });
  }

  static async signIn(url: string, email: string, password = PASSWORD): Promise<ApiClient> {
    const client = new ApiClient(url);
    const res = await client.request('POST', '/session', { email, password });
    if (res.status !== 200) throw new Error(`sign-in failed: ${res.status} ${JSON.stringify(res.body)}`);
    return client;
  }

  /** `body` as an object (sent as JSON) or a raw string; options.csrf=false leaves the CSRF header out. */
  async request<T = any>(method: string, path: string, body?: unknown, options: { csrf?: boolean; headers?: Record<string, string>; contentType?: string } = {}): Promise<ApiResponse<T>> { // eslint-disable-line @typescript-eslint/no-explicit-any
    const headers: Record<string, string> = { accept: 'application/json', ...options.headers };
    if (body !== undefined) headers['content-type'] = options.contentType ?? 'application/json';
    if (this.cookie) headers.cookie = this.cookie;
    if (this.bearer) headers.authorization = `Bearer ${this.bearer}`;
    if (this.csrf && options.csrf !== false) headers['x-csrf-token'] = this.csrf;
    const response = await fetch(`${this.url}/api/v1${path}`, {
      method,
      headers,
      ...(body !== undefined ? { body: typeof body === 'string' ? body : JSON.stringify(body) } : {}),
    });
    const setCookie = response.headers.getSetCookie().find((c) => c.startsWith('keyport.sid='));
    if (setCookie) {
      const value = setCookie.split(';')[0]!;
      this.cookie = value === 'keyport.sid=' ? null : value;
    }
    const text = await response.text();
    let parsed: unknown = text;
    try {
      parsed = text ? JSON.parse(text) : null;
    } catch { /* not JSON */ }
    const result = { status: response.status, body: parsed as T, headers: response.headers };
    if (path === '/session' && (method === 'POST' || method === 'GET') && response.status === 200) {
      this.csrf = (parsed as { csrfToken?: string }).csrfToken ?? this.csrf;
    }
    return result;
  }

  get<T = any>(path: string) { return this.request<T>('GET', path); } // eslint-disable-line @typescript-eslint/no-explicit-any
  post<T = any>(path: string, body: unknown = {}) { return this.request<T>('POST', path, body); } // eslint-disable-line @typescript-eslint/no-explicit-any
  patch<T = any>(path: string, body: unknown) { return this.request<T>('PATCH', path, body); } // eslint-disable-line @typescript-eslint/no-explicit-any
  delete<T = any>(path: string) { return this.request<T>('DELETE', path); } // eslint-disable-line @typescript-eslint/no-explicit-any
}

export const accountOwner = (accountId: string): Owner => ({ type: 'account', accountId, environmentId: null });
export const environmentOwner = (accountId: string, environmentId: string): Owner => ({ type: 'environment', accountId, environmentId });

/** A user made through the domain, with memberships. */
export async function createUser(keyport: RunningKeyport, email: string, grants: [Owner, 'admin' | 'member'][] = []): Promise<string> {
  const user = await keyport.domain.users.createUser({ email, password: PASSWORD }, 'system');
  for (const [owner, role] of grants) await keyport.domain.users.grant(user.id, owner, role, 'system');
  return user.id;
}

/** An account with two environments, made through the domain. */
export async function createTenant(keyport: RunningKeyport, name = 'Acme') {
  const account = await keyport.domain.owners.createAccount({ name }, 'system');
  const production = await keyport.domain.owners.createEnvironment(account.id, { name: 'production' }, 'system');
  const staging = await keyport.domain.owners.createEnvironment(account.id, { name: 'staging' }, 'system');
  return { accountId: account.id, productionId: production.id, stagingId: staging.id };
}
