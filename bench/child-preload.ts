// Loaded with `--import` into both benchmark servers (the real Keyport entry
// src/main.ts, and the baseline). It adds nothing to the request path:
//  - if the benchmark process goes away (crash, SIGKILL), the IPC channel closes
//    and this server stops itself instead of lingering;
//  - on request, it counts database operations (mongoose's debug hook, only
//    while counting) so that the benchmark can report reads per token request.
type Message = { type: 'count-start' } | { type: 'count-stop' };

const counts = new Map<string, number>();
/** How long operations are still counted after the last answer. */
const AFTER_LAST_ANSWER_MS = 250;

function count(this: unknown, collection: string, method: string): void {
  const key = `${collection}.${method}`;
  counts.set(key, (counts.get(key) ?? 0) + 1);
}

// eslint-disable-next-line @typescript-eslint/no-misused-promises -- a failed import ends the child (unhandled rejection), as a throw would
process.on('message', async (message: Message) => {
  // Imported on demand: the baseline server never loads mongoose.
  const { default: mongoose } = await import('mongoose');
  if (message.type === 'count-start') {
    counts.clear();
    mongoose.set('debug', count);
    process.send?.({ type: 'count-started' });
  } else if (message.type === 'count-stop') {
    // Operations made after the last answer are the request's too (a wrong secret is counted after its 401).
    setTimeout(() => {
      mongoose.set('debug', false);
      process.send?.({ type: 'counts', counts: Object.fromEntries(counts) });
    }, AFTER_LAST_ANSWER_MS);
  }
});

process.on('disconnect', () => {
  process.kill(process.pid, 'SIGTERM');
  // If the server's own SIGTERM handling hangs, do not stay behind.
  setTimeout(() => process.exit(1), 10_000).unref();
});
