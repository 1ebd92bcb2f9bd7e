// Pages of an owner's keypairs read through an index, however many it has
// (issue 16): the sort keys stored on every keypair, the keyset queries over
// them, capped counts, and the filling-in of keys on records written before
// they existed. On MongoDB the model's indexes serve these queries; on the
// embedded FerretDB, Keyport's build runs their sort and limit in SQLite when
// the find is marked EXACT_QUERY (src/db/ferretdb-build.ts, KEYPORT_EXACT_GO).
import { trusted, type Model } from 'mongoose';
import type { KeypairListScope, KeypairListSort, KeypairListStatus, KeypairPageQuery, KeypairRecord } from './contract.ts';

/**
 * The comment that tells Keyport's FerretDB build a find may be sorted and
 * limited in SQL: Keyport declares with it that every top-level field the
 * query names is present in every keypair and holds a scalar (the schema's
 * required fields and defaults, and the keys below). MongoDB ignores comments
 * (they only show in its logs and profiler).
 */
export const EXACT_QUERY = 'keyport:exact';

/**
 * The sort keys. Each is unique (it ends with the key id) and a plain string
 * whose bytes sort as the order it stands for, which is what both databases
 * compare: `nameKey` is the lowercased name's UTF-8 bytes in hex (any name,
 * quotes, accents and emoji included, sorts by its bytes, case aside), then
 * `.` (below every hex digit, so "ab" sorts before "abc") and the key id;
 * `createdKey` is the creation time in ISO 8601 (fixed width), `.` and the key id.
 */
export const LIST_SORTS: Record<KeypairListSort, { field: 'nameKey' | 'createdKey'; direction: 1 | -1 }> = {
  'name': { field: 'nameKey', direction: 1 },
  '-name': { field: 'nameKey', direction: -1 },
  'created': { field: 'createdKey', direction: 1 },
  '-created': { field: 'createdKey', direction: -1 },
};

const KEY_PATTERNS: Record<'nameKey' | 'createdKey', RegExp> = {
  // A name of NAME_MAX UTF-16 units is at most 300 UTF-8 bytes, and lowercasing may lengthen it: room for 1200.
  nameKey: /^(?:[0-9a-f]{2}){0,1200}\.[A-Za-z0-9_]{1,64}$/,
  createdKey: /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z\.[A-Za-z0-9_]{1,64}$/,
};

const hexOf = (text: string) => Buffer.from(text.toLowerCase(), 'utf8').toString('hex');

export function nameKey(name: string, keyId: string): string {
  return `${hexOf(name)}.${keyId}`;
}

export function listKeys(keypair: { _id: string; name: string; createdAt: Date }): { nameKey: string; createdKey: string } {
  return { nameKey: nameKey(keypair.name, keypair._id), createdKey: `${keypair.createdAt.toISOString()}.${keypair._id}` };
}

/** Whether `key` has the shape of a sort key of `sort` (a cursor names one). */
export function isListKey(sort: KeypairListSort, key: string): boolean {
  return KEY_PATTERNS[LIST_SORTS[sort].field].test(key);
}

/**
 * Which keypairs a status names, written in the forms the exact pushdown
 * translates (an expired key's `expiresAt: {$lte: now}` needs no `$ne: null`:
 * a date comparison never matches null, in MongoDB as in the pushdown).
 */
function statusFilter(status: KeypairListStatus | undefined, now: Date, expiringBefore: Date | undefined): Record<string, unknown> {
  switch (status) {
    case 'expiring': return { expiresAt: trusted({ $gt: now, $lte: expiringBefore ?? now }) };
    case 'expired': return { expiresAt: trusted({ $lte: now }) };
    case 'locked': return { $or: [{ lockedPermanently: true }, { lockedUntil: trusted({ $gt: now }) }] };
    case 'disabled': return { enabled: false }; // locked or not: a lock must not hide that a key is disabled
    case 'enabled': return { enabled: true, lockedPermanently: false, $or: [{ lockedUntil: null }, { lockedUntil: trusted({ $lte: now }) }] };
    case undefined: return {};
  }
}

type Owner = KeypairListScope;

/** The list's owner equalities: the account alone across its environments, else the account and the environment (null: the account's own). */
function ownerFilter(owner: Owner): Record<string, unknown> {
  return 'acrossEnvironments' in owner ? { accountId: owner.accountId } : { accountId: owner.accountId, environmentId: owner.environmentId };
}

/** Text as a literal in a regular expression: a search matches only itself. */
export const escapeRegExp = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

type Bounds = { $gt?: string; $gte?: string; $lt?: string; $lte?: string };

/** Adds bounds on one field, keeping the tighter one where two name the same operator. */
function tighten(into: Bounds, add: Bounds): Bounds {
  const out = { ...into };
  for (const [op, value] of Object.entries(add) as [keyof Bounds, string][]) {
    const have = out[op];
    out[op] = have === undefined ? value : (op === '$gt' || op === '$gte') === (value > have) ? value : have;
  }
  return out;
}

function filterOf(owner: Owner, query: Omit<KeypairPageQuery, 'sort' | 'limit' | 'offset'>, cursor?: { field: string; bounds: Bounds }): Record<string, unknown> {
  const filter: Record<string, unknown> = { ...ownerFilter(owner), ...statusFilter(query.status, query.now, query.expiringBefore) };
  if (query.keyId !== undefined) filter._id = query.keyId;
  const bounds: Record<string, Bounds> = {};
  if (query.namePrefix !== undefined) {
    const prefix = hexOf(query.namePrefix);
    const range = { $gte: prefix, $lt: `${prefix}g` }; // 'g' sorts after every hex digit and '.'
    if (query.commentContains === undefined) bounds.nameKey = range;
    // In $and: a status filter may hold an $or already. A regular expression is not
    // translated by the exact pushdown, so such a find is filtered in FerretDB (Go), after
    // the owner's equalities narrowed it in SQLite: it is only asked of small lists.
    else filter.$and = [{ $or: [{ nameKey: trusted(range) }, { comment: trusted({ $regex: escapeRegExp(query.commentContains), $options: 'i' }) }] }];
  }
  if (cursor) bounds[cursor.field] = tighten(bounds[cursor.field] ?? {}, cursor.bounds);
  for (const [field, range] of Object.entries(bounds)) filter[field] = trusted(range);
  return filter;
}

/** The find behind one page (findPage): its filter, its sort and its limit. */
export function pageQuery(owner: Owner, query: KeypairPageQuery): { filter: Record<string, unknown>; sort: Record<string, 1 | -1>; skip: number; limit: number; backwards: boolean } {
  const { field, direction } = LIST_SORTS[query.sort];
  const backwards = query.before !== undefined;
  const order: 1 | -1 = backwards ? (direction === 1 ? -1 : 1) : direction;
  const from = query.before ?? query.after;
  const cursor = from === undefined ? undefined : { field, bounds: order === 1 ? { $gt: from } : { $lt: from } };
  return { filter: filterOf(owner, query, cursor), sort: { [field]: order, _id: order }, skip: query.offset ?? 0, limit: query.limit + 1, backwards };
}

/**
 * One page in `query.sort` order: after the key `after`, or, with `before`, the
 * rows just before that key (returned in the sort's order). At most
 * `limit + 1` records: one more than asked, to tell whether another page follows.
 */
export async function findPage(model: Model<KeypairRecord>, owner: Owner, query: KeypairPageQuery): Promise<KeypairRecord[]> {
  const { filter, sort, skip, limit, backwards } = pageQuery(owner, query);
  const rows = await model.find(filter).sort(sort).skip(skip).limit(limit).comment(EXACT_QUERY).lean<KeypairRecord[]>().exec();
  return backwards ? rows.reverse() : rows;
}

/**
 * How many keypairs match, counted up to `cap + 1` (more than `cap` is all
 * that is told): a `count` command with a limit, which MongoDB answers from
 * the index and Keyport's FerretDB build in SQLite (never a decode of the owner's keypairs).
 */
export async function countUpTo(model: Model<KeypairRecord>, owner: Owner, query: Omit<KeypairPageQuery, 'sort' | 'limit' | 'offset' | 'after' | 'before'>, cap: number): Promise<number> {
  const answer = await model.db.db!.command({ count: model.collection.collectionName, query: filterOf(owner, query), limit: cap + 1, comment: EXACT_QUERY });
  return Number(answer.n);
}

/**
 * Writes the sort keys into keypairs that lack them (written by a Keyport
 * before they existed), a batch at a time. Each write is conditional on the
 * name read, so that a rename meanwhile (which writes its own key) wins.
 * Returns how many it filled in.
 */
export async function fillInListKeys(model: Model<KeypairRecord>, batch = 500): Promise<number> {
  let filled = 0;
  for (;;) {
    const missing = await model.find({ $or: [{ nameKey: trusted({ $exists: false }) }, { createdKey: trusted({ $exists: false }) }] }, { _id: 1, name: 1, createdAt: 1 })
      .sort({ _id: 1 })
      .limit(batch)
      .comment(EXACT_QUERY)
      .lean<Pick<KeypairRecord, '_id' | 'name' | 'createdAt'>[]>()
      .exec();
    let round = 0;
    for (const doc of missing) {
      const result = await model.updateOne({ _id: doc._id, name: doc.name }, { $set: listKeys(doc) });
      round += result.modifiedCount;
    }
    filled += round;
    // A batch that filled nothing would be read again and again: leave it to the next start.
    if (missing.length < batch || round === 0) return filled;
  }
}
