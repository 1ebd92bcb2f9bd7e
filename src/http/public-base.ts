// Where Keyport is, seen from its clients: the issuer's origin and path. Behind
// a path (issuer https://example.com/auth) the dispatcher in src/app.ts strips
// that path from each request, so that every route matches as if Keyport were
// mounted at "/"; what goes back to the client (links, redirects, cookie paths)
// gets the path back through publicPath. Set once per Koa app, read through the
// context's prototype: no per-request work.
import type Koa from 'koa';
import { issuerPath } from '../config.ts';

const BASE = Symbol('keyport.publicBase');

interface PublicBase {
  /** '' at the root, else the issuer's path without a trailing slash ('/auth'). */
  path: string;
  /** The issuer's origin: what a browser on Keyport's own pages sends as Origin. */
  origin: string;
}

type Holder = { [BASE]?: PublicBase };

export function setPublicBase(app: Koa, issuer: string): void {
  (app.context as Holder)[BASE] = { path: issuerPath(issuer), origin: new URL(issuer).origin };
}

function publicBase(ctxOrApp: object): PublicBase {
  return (ctxOrApp as Holder)[BASE] ?? { path: '', origin: '' };
}

/** The issuer's path: '' at the root. Takes a Koa context or app.context. */
export function basePath(ctxOrApp: object): string {
  return publicBase(ctxOrApp).path;
}

/** An app path ('/ui/accounts') as the client must request it ('/auth/ui/accounts' behind a path). */
export function publicPath(ctx: object, appPath: string): string {
  return publicBase(ctx).path + appPath;
}

/** The issuer's origin (scheme, host, port). */
export function publicOrigin(ctx: object): string {
  return publicBase(ctx).origin;
}
