// FailureCounts (src/domain/failure-counts.ts): the queue between a wrong
// secret's 401 and its count in the database. The lockout rules it serves are
// tested over HTTP in lockout.test.ts; this pins the queue's own guarantees
// with a writer the test controls.
import test from 'ava';
import { FailureCounts } from '../src/domain/failure-counts.ts';

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
