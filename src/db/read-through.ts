// Reading through an lru-cache whose entries are deleted when the data changes
// (see src/db/change-feed.ts). A delete that lands while a load is in flight aborts that
// load (its result may be older than the change) and lru-cache rejects the
// fetch; load again, so that callers get the fresh value instead of an error.
// That holds for every caller waiting on the load: the one that started it
// (status.fetchAborted) and any that joined it while in flight (status.fetch
// 'inflight', which lru-cache does not mark as aborted). Under a burst of writes
// to one key (many failed authentications at once) every load through the cache
// can be aborted in turn: after a few, the value is read directly, uncached, so
// that the caller always gets an answer and never the abort.
import type { LRUCache } from 'lru-cache';

/** Loads through the cache before reading directly. */
const CACHED_ATTEMPTS = 3;

export async function fetchThrough<K extends {}, V extends {}>(cache: LRUCache<K, V>, key: K): Promise<V | undefined> {
  for (let attempt = 1; attempt <= CACHED_ATTEMPTS; attempt++) {
    const status: LRUCache.Status<K, V, unknown> = {};
    try {
      return await cache.fetch(key, { status });
    } catch (err) {
      const abortedLoad = status.fetchAborted || status.fetch === 'inflight';
      if (!abortedLoad) throw err;
    }
  }
  // Started after the last change that aborted a load, so at least as fresh as it; not
  // cached, since nothing would abort it if one more change landed meanwhile.
  return loadDirectly(cache, key);
}

async function loadDirectly<K extends {}, V extends {}>(cache: LRUCache<K, V>, key: K): Promise<V | undefined> {
  const load = cache.fetchMethod;
  if (!load) return cache.get(key);
  return (await load(key, undefined, { signal: new AbortController().signal, options: {}, context: undefined })) ?? undefined;
}

/**
 * A fresh cached value at once, without lru-cache's fetch machinery (a promise
 * and a status object per read, on every token request); otherwise fetchThrough,
 * which answers a stale entry from the old copy while it reloads in the background.
 * A stale entry is not deleted here, so that the background reload still happens.
 */
export function readThrough<K extends {}, V extends {}>(cache: LRUCache<K, V>, key: K): V | Promise<V | undefined> {
  const fresh = cache.get(key, { allowStale: false, noDeleteOnStaleGet: true });
  return fresh !== undefined ? fresh : fetchThrough(cache, key);
}
