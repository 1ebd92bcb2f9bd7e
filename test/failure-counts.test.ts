// FailureCounts (src/domain/failure-counts.ts): the queue between a wrong
// secret's 401 and its count in the database. The lockout rules it serves are
// tested over HTTP in lockout.test.ts; this pins the queue's own guarantees
// with a writer the test controls.
import test from 'ava';
import { FailureCounts } from '../src/domain/failure-counts.ts';
import { FAILURE_SOURCES_KEPT_MS, mergeFailureSources, type FailureSource } from '../src/domain/failure-sources.ts';

interface Write {
  key: string;
  record: string;
  count: number;
  finish(err?: Error): void;
}

/** A writer whose writes stay open until the test finishes them. */
function heldWriter() {
  const writes: Write[] = [];
  let open = 0;
  let mostOpen = 0;
  const write = (key: string, record: string, count: number) => new Promise<void>((resolve, reject) => {
    open++;
    mostOpen = Math.max(mostOpen, open);
    writes.push({ key, record, count, finish: (err) => { open--; if (err) reject(err); else resolve(); } });
  });
  return { writes, write, mostOpen: () => mostOpen };
}

const turn = () => new Promise((resolve) => setImmediate(resolve));

test('failures of a key that arrive while its count is written join one batch, counted by one more write', async (t) => {
  const writer = heldWriter();
  const counts = new FailureCounts<string>({ write: writer.write, maxInFlight: 1, onError: () => t.fail() });
  counts.add('kp_a', 'first record');
  await turn();
  t.is(writer.writes.length, 1);
  t.like(writer.writes[0], { key: 'kp_a', record: 'first record', count: 1 });
  for (let i = 0; i < 5; i++) counts.add('kp_a', 'later record');
  await turn();
  t.is(writer.writes.length, 1, 'a key never has two writes at once');
  t.true(counts.pending('kp_a'));
  writer.writes[0]!.finish();
  await turn();
  t.is(writer.writes.length, 2);
  t.like(writer.writes[1], { key: 'kp_a', record: 'later record', count: 5 });
  writer.writes[1]!.finish();
  await counts.counted('kp_a');
  t.false(counts.pending('kp_a'));
});

test('writes run at most maxInFlight at a time, keys taking turns in the order they first failed', async (t) => {
  const writer = heldWriter();
  const counts = new FailureCounts<string>({ write: writer.write, maxInFlight: 2, onError: () => t.fail() });
  for (const key of ['kp_a', 'kp_b', 'kp_c', 'kp_d']) counts.add(key, key);
  await turn();
  t.deepEqual(writer.writes.map((w) => w.key), ['kp_a', 'kp_b']);
  counts.add('kp_a', 'again'); // behind c and d
  writer.writes[0]!.finish();
  writer.writes[1]!.finish();
  await turn();
  t.deepEqual(writer.writes.map((w) => w.key), ['kp_a', 'kp_b', 'kp_c', 'kp_d']);
  writer.writes[2]!.finish();
  writer.writes[3]!.finish();
  await turn();
  t.deepEqual(writer.writes.map((w) => w.key), ['kp_a', 'kp_b', 'kp_c', 'kp_d', 'kp_a']);
  writer.writes[4]!.finish();
  await counts.counted();
  t.is(writer.mostOpen(), 2);
});

test('counted() waits for the failures added before it, not for later ones', async (t) => {
  const writer = heldWriter();
  const counts = new FailureCounts<string>({ write: writer.write, maxInFlight: 1, onError: () => t.fail() });
  counts.add('kp_a', 'a');
  counts.add('kp_b', 'b');
  let settled = false;
  const all = counts.counted().then(() => { settled = true; });
  await turn();
  counts.add('kp_c', 'c'); // after the call: not waited for
  writer.writes[0]!.finish();
  await turn();
  t.false(settled, 'kp_b is not written yet');
  writer.writes[1]!.finish();
  await all;
  t.true(counts.pending('kp_c'));
  t.is(writer.writes.length, 3);
  writer.writes[2]!.finish();
  await counts.counted();
});

test('a failed write is reported, its waiters are released, and the next batches are still written', async (t) => {
  const writer = heldWriter();
  const reported: string[] = [];
  const counts = new FailureCounts<string>({ write: writer.write, maxInFlight: 1, onError: (_err, what) => reported.push(what) });
  counts.add('kp_a', 'a');
  counts.add('kp_a', 'a');
  counts.add('kp_b', 'b');
  await turn();
  writer.writes[0]!.finish(new Error('database unreachable'));
  await counts.counted('kp_a');
  t.deepEqual(reported, ['counting 2 failed authentication(s) of keypair kp_a']);
  await turn();
  t.like(writer.writes[1], { key: 'kp_b', count: 1 });
  writer.writes[1]!.finish();
  await counts.counted();
});

test('a batch carries its source addresses to its write: per address a count and the last time, at most 10, the latest', async (t) => {
  const seen: FailureSource[][] = [];
  let release!: () => void;
  const held = new Promise<void>((resolve) => { release = resolve; });
  const counts = new FailureCounts<string>({ write: async (_key, _record, _count, sources) => { seen.push(sources); await held; }, maxInFlight: 1, onError: () => t.fail() });
  const at = (minute: number) => new Date(Date.UTC(2026, 10, 30, 12, minute));
  counts.add('kp_a', 'a', { address: '203.0.113.1', at: at(0) });
  await turn();
  counts.add('kp_a', 'a'); // no address known (a caller that gives none): counted, no source
  for (let i = 0; i < 12; i++) counts.add('kp_a', 'a', { address: `192.0.2.${i}`, at: at(1 + i) });
  counts.add('kp_a', 'a', { address: '192.0.2.5', at: at(20) });
  release();
  await counts.counted('kp_a');
  t.deepEqual(seen[0], [{ address: '203.0.113.1', count: 1, lastSeenAt: at(0) }]);
  const second = seen[1]!;
  t.is(second.length, 10, 'bounded');
  t.false(second.some((s) => s.address === '192.0.2.0' || s.address === '192.0.2.1'), 'the addresses seen longest ago go first');
  t.deepEqual(second.find((s) => s.address === '192.0.2.5'), { address: '192.0.2.5', count: 2, lastSeenAt: at(20) });
});

test('merging a batch into the stored sources adds the counts, drops those older than 24 hours, keeps the newest 10', (t) => {
  const now = new Date(Date.UTC(2026, 10, 30, 12));
  const ago = (ms: number) => new Date(now.getTime() - ms);
  const stored: FailureSource[] = [
    { address: '203.0.113.1', count: 4, lastSeenAt: ago(60_000) },
    { address: '203.0.113.2', count: 9, lastSeenAt: ago(FAILURE_SOURCES_KEPT_MS + 1) },
  ];
  const merged = mergeFailureSources(stored, [{ address: '203.0.113.1', count: 2, lastSeenAt: now }, { address: '198.51.100.1', count: 1, lastSeenAt: ago(1000) }], now);
  t.deepEqual(merged, [
    { address: '203.0.113.1', count: 6, lastSeenAt: now },
    { address: '198.51.100.1', count: 1, lastSeenAt: ago(1000) },
  ]);
  const many = Array.from({ length: 15 }, (_, i) => ({ address: `192.0.2.${i}`, count: 1, lastSeenAt: ago(i * 1000) }));
  t.deepEqual(mergeFailureSources(undefined, many, now).map((s) => s.address), many.slice(0, 10).map((s) => s.address));
});
