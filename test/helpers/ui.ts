// A no-JavaScript browser for the web UI in tests: a cookie jar, GET, and plain
// form POSTs (application/x-www-form-urlencoded) carrying the page's CSRF token.
import { PASSWORD } from './api.ts';

export interface Page {
  status: number;
  html: string;
  headers: Headers;
  location: string | null;
  setCookies: string[];
}

export class UiClient {
  readonly url: string;
  readonly cookies = new Map<string, string>();

  constructor(url: string) {
    this.url = url;
  }

  get cookieHeader(): string {
    return [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
  }

  async request(method: 'GET' | 'POST', path: string, form?: Record<string, string | string[]>, headers: Record<string, string> = {}): Promise<Page> {
    const body = new URLSearchParams();
    for (const [k, v] of Object.entries(form ?? {})) for (const one of Array.isArray(v) ? v : [v]) body.append(k, one);
    const response = await fetch(`${this.url}${path}`, {
      method,
      redirect: 'manual',
      headers: {
        accept: 'text/html',
        ...(this.cookies.size ? { cookie: this.cookieHeader } : {}),
        ...(form ? { 'content-type': 'application/x-www-form-urlencoded' } : {}),
        ...headers,
      },
      ...(form ? { body } : {}),
    });
    const setCookies = response.headers.getSetCookie();
    for (const line of setCookies) {
      const [pair] = line.split(';');
      const eq = pair!.indexOf('=');
      const name = pair!.slice(0, eq);
      const value = pair!.slice(eq + 1);
      if (value && !/expires=Thu, 01 Jan 1970/i.test(line)) this.cookies.set(name, value);
      else this.cookies.delete(name);
    }
    return { status: response.status, html: await response.text(), headers: response.headers, location: response.headers.get('location'), setCookies };
  }

  get(path: string): Promise<Page> {
    return this.request('GET', path);
  }

  post(path: string, form: Record<string, string | string[]>, headers: Record<string, string> = {}): Promise<Page> {
    return this.request('POST', path, form, headers);
  }

  /** GETs a page and posts one of its forms (by action) with its hidden fields plus `fields`. */
  async submit(pagePath: string, action: string, fields: Record<string, string | string[]> = {}): Promise<Page> {
    const page = await this.get(pagePath);
    if (page.status !== 200) throw new Error(`GET ${pagePath}: ${page.status}`);
    return this.post(action, { ...hiddenFields(page.html, action), ...fields });
  }

  static async signIn(url: string, email: string, password = PASSWORD): Promise<UiClient> {
    const client = new UiClient(url);
    const res = await client.submit('/ui/sign-in', '/ui/sign-in', { email, password });
    if (res.status !== 303) throw new Error(`sign-in failed: ${res.status}`);
    return client;
  }
}

/** The hidden inputs of the form with this action (the first form when there are several). */
export function hiddenFields(html: string, action: string): Record<string, string> {
  const start = html.indexOf(`action="${action}"`);
  if (start === -1) throw new Error(`no form with action ${action}`);
  const end = html.indexOf('</form>', start);
  const form = html.slice(start, end);
  const fields: Record<string, string> = {};
  for (const match of form.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)">/g)) fields[match[1]!] = decodeEntities(match[2]!);
  return fields;
}

export function decodeEntities(text: string): string {
  return text.replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');
}

/** The text of the element with this id (the key id and secret on the secret page). */
export function textOf(html: string, id: string): string | null {
  const match = new RegExp(`id="${id}"[^>]*>([^<]*)<`).exec(html);
  return match ? decodeEntities(match[1]!) : null;
}
