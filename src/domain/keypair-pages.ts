// Pages of an owner's keypairs for the admin surfaces (issue 16): the orders,
// the opaque cursors that carry a page's position, and totals counted only up
// to a cap. Each page is one indexed read however many keypairs the owner has
// (src/db/keypair-list.ts); an offset still works, for small lists and old clients.
import type { KeypairListScope, KeypairListSort, KeypairPageQuery, KeypairRecord, KeypairStore } from '../db/contract.ts';
import { isListKey, LIST_SORTS, listKeys } from '../db/keypair-list.ts';
import { isWellFormedKeyId } from './credentials.ts';
import { invalidInput } from './errors.ts';
import type { KeypairListFilter } from './keypair-views.ts';

/** The orders a list offers: newest first (the default), oldest first, name A–Z, name Z–A. */
export const KEYPAIR_SORTS = ['-created', 'created', 'name', '-name'] as const satisfies readonly KeypairListSort[];
export type KeypairSort = (typeof KEYPAIR_SORTS)[number];

/**
 * Totals are counted up to this many: past it a list says "more than" it. A
 * count reads the matching ids through the index, one per keypair, so an exact
 * total of a large list would cost what the pages were made not to.
 */
export const TOTAL_CAP = 1000;

/**
 * A search also looks into comments (any case, anywhere in the text) only in
 * lists of at most this many keypairs: no index serves "a comment that holds
 * this text", so the database reads each of the list's keypairs to answer it.
 * Larger lists are searched by name prefix and key id, and say so (`searchedComments`).
 */
export const COMMENT_SEARCH_MAX = TOTAL_CAP;

export interface KeypairPageRequest {
  limit: number;
  /** Default: newest first, or name order for a search. */
  sort?: KeypairSort;
  /** A `next` or `previous` of an earlier page of the same list. */
  cursor?: string;
  offset?: number;
  status?: KeypairListFilter;
  /** A key id (that keypair, if the owner has it), else a name prefix in any case, or text in the comment (lists up to COMMENT_SEARCH_MAX). */
  search?: string;
}

export interface KeypairPage {
  records: KeypairRecord[];
  sort: KeypairSort;
  /** The cursor of the page after this one, or null on the last page. */
  next: string | null;
  /** The cursor of the page before this one, or null on the first page. */
  previous: string | null;
  /** How many keypairs match, up to TOTAL_CAP; `totalIsExact` false: more than that. */
  total: number;
  totalIsExact: boolean;
  /** A search looked into comments too (false: no search, a key id found, or a list of more than COMMENT_SEARCH_MAX keypairs). */
  searchedComments: boolean;
}

type Position = { sort: KeypairSort; after?: string; before?: string };

export function encodeCursor(position: Position): string {
  const body = position.before !== undefined ? { v: 1, s: position.sort, b: position.before } : { v: 1, s: position.sort, a: position.after };
  return Buffer.from(JSON.stringify(body), 'utf8').toString('base64url');
}

const BAD_CURSOR = 'cursor is not one this list returned: pass the "next" or "previous" of a page, unchanged';

export function decodeCursor(cursor: string): Position {
  let body: unknown;
  try {
    if (!/^[A-Za-z0-9_-]{1,4096}$/.test(cursor)) throw new Error('not base64url');
    body = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    throw invalidInput(BAD_CURSOR, { field: 'cursor' });
  }
  const { v, s, a, b } = (typeof body === 'object' && body !== null ? body : {}) as Record<string, unknown>;
  const key = a ?? b;
  if (v !== 1 || !(KEYPAIR_SORTS as readonly unknown[]).includes(s) || (a === undefined) === (b === undefined) || typeof key !== 'string' || !isListKey(s as KeypairSort, key)) {
    throw invalidInput(BAD_CURSOR, { field: 'cursor' });
  }
  return a !== undefined ? { sort: s as KeypairSort, after: key } : { sort: s as KeypairSort, before: key };
}

/** A record's key in `sort` order (a record an older Keyport wrote after the fill-in has none stored yet). */
function keyOf(record: KeypairRecord, sort: KeypairSort): string {
  const field = LIST_SORTS[sort].field;
  return record[field] ?? listKeys(record)[field];
}

/** Whether the list is small enough for a search to look into comments (counted through the index, up to the limit). */
async function commentsSearchable(store: KeypairStore, owner: KeypairListScope, now: Date): Promise<boolean> {
  return (await store.countUpTo(owner, { now }, COMMENT_SEARCH_MAX)) <= COMMENT_SEARCH_MAX;
}

/** What a search (not a key id found) narrows a list to: a name prefix, and the comment in a small list. */
async function textSearch(store: KeypairStore, owner: KeypairListScope, search: string, now: Date): Promise<{ namePrefix: string; commentContains?: string }> {
  return (await commentsSearchable(store, owner, now)) ? { namePrefix: search, commentContains: search } : { namePrefix: search };
}

export async function readKeypairPage(store: KeypairStore, owner: KeypairListScope, request: KeypairPageRequest, when: { now: Date; expiringBefore: Date }): Promise<KeypairPage> {
  const position = request.cursor !== undefined ? decodeCursor(request.cursor) : undefined;
  if (position && request.sort !== undefined && request.sort !== position.sort) {
    throw invalidInput(`cursor belongs to the list in sort order "${position.sort}": ask with sort=${position.sort}, or without the cursor`, { field: 'cursor' });
  }
  if (position && request.offset) throw invalidInput('give a cursor or an offset, not both', { field: 'offset' });
  const search = request.search?.trim() || undefined;
  const sort = position?.sort ?? request.sort ?? (search ? 'name' : '-created');
  const base: Omit<KeypairPageQuery, 'limit'> = { sort, now: when.now, expiringBefore: when.expiringBefore, ...(request.status ? { status: request.status } : {}) };

  if (search && isWellFormedKeyId(search)) {
    const byId = { ...base, keyId: search };
    const records = await store.listPage(owner, { ...byId, limit: request.limit });
    if (records.length > 0) return { records, sort, next: null, previous: null, total: records.length, totalIsExact: true, searchedComments: false };
  }
  const query = search ? { ...base, ...(await textSearch(store, owner, search, when.now)) } : base;
  const counting = store.countUpTo(owner, query, TOTAL_CAP);
  const { records, next, previous } = await pageAt(store, owner, { ...query, limit: request.limit }, position, request.offset ?? 0);
  const counted = await counting;
  return { records, sort, next, previous, total: Math.min(counted, TOTAL_CAP), totalIsExact: counted <= TOTAL_CAP, searchedComments: query.commentContains !== undefined };
}

async function pageAt(store: KeypairStore, owner: KeypairListScope, query: KeypairPageQuery, position: Position | undefined, offset: number): Promise<Pick<KeypairPage, 'records' | 'next' | 'previous'>> {
  const { sort, limit } = query;
  if (position?.before !== undefined) {
    const rows = await store.listPage(owner, { ...query, before: position.before });
    const more = rows.length > limit;
    const records = more ? rows.slice(1) : rows;
    // Fewer than a page before the cursor (keypairs removed meanwhile): that is the start; show the first page.
    if (more || records.length === limit) {
      return { records, next: encodeCursor({ sort, after: keyOf(records.at(-1)!, sort) }), previous: more ? encodeCursor({ sort, before: keyOf(records[0]!, sort) }) : null };
    }
    return pageAt(store, owner, query, undefined, 0);
  }
  const rows = await store.listPage(owner, { ...query, ...(position?.after !== undefined ? { after: position.after } : {}), ...(offset ? { offset } : {}) });
  const records = rows.slice(0, limit);
  const next = rows.length > limit ? encodeCursor({ sort, after: keyOf(records.at(-1)!, sort) }) : null;
  const previous = (position?.after !== undefined || offset > 0) && records.length > 0 ? encodeCursor({ sort, before: keyOf(records[0]!, sort) }) : null;
  return { records, next, previous };
}

/**
 * Counts of the list's tabs (all, and each status), each up to `cap`; `search` as in
 * a page. A status count walks the owner's keypairs in the index until it has
 * `cap + 1` matches, so a rare status of a large owner would read all of them:
 * past `cap` keypairs in all, the status tabs are not counted (null).
 */
export async function countKeypairTabs(store: KeypairStore, owner: KeypairListScope, statuses: readonly KeypairListFilter[], search: string | undefined, when: { now: Date; expiringBefore: Date }, cap = TOTAL_CAP): Promise<Record<KeypairListFilter | 'all', { count: number; exact: boolean } | null>> {
  const trimmed = search?.trim() || undefined;
  const narrowed = trimmed ? (isWellFormedKeyId(trimmed) && (await store.countUpTo(owner, { now: when.now, keyId: trimmed }, 1)) > 0 ? { keyId: trimmed } : await textSearch(store, owner, trimmed, when.now)) : {};
  const count = async (status?: KeypairListFilter) => {
    const n = await store.countUpTo(owner, { now: when.now, expiringBefore: when.expiringBefore, ...narrowed, ...(status ? { status } : {}) }, cap);
    return { count: Math.min(n, cap), exact: n <= cap };
  };
  const all = await count();
  const perStatus = all.exact ? await Promise.all(statuses.map((status) => count(status))) : statuses.map(() => null);
  return Object.fromEntries([['all', all], ...statuses.map((status, i) => [status, perStatus[i]])]) as Record<KeypairListFilter | 'all', { count: number; exact: boolean } | null>;
}
