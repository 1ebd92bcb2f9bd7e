// A local webhook receiver for tests: records every request (raw body and
// headers) and answers as the test says (a status, or never: 'hang').
import { createServer, type IncomingHttpHeaders, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ReceivedWebhook {
  body: string;
  headers: IncomingHttpHeaders;
  /** True once the receiver answered. */
  answered: boolean;
}

export interface WebhookReceiver {
  url: string;
  received: ReceivedWebhook[];
  /** How the next requests are answered (default 204). */
  answer: number | 'hang';
  /** Resolves with the `count`th request received (1-based), when it has come. */
  request(count: number): Promise<ReceivedWebhook>;
  close(): Promise<void>;
}

export async function startWebhookReceiver(path = '/hooks/keyport'): Promise<WebhookReceiver> {
  const received: ReceivedWebhook[] = [];
  const waiting: { count: number; resolve: (r: ReceivedWebhook) => void }[] = [];
  const hanging: ServerResponse[] = [];
  const receiver: WebhookReceiver = {
    url: '',
    received,
    answer: 204,
    request(count) {
      if (received.length >= count) return Promise.resolve(received[count - 1]!);
      return new Promise((resolve) => waiting.push({ count, resolve }));
    },
    async close() {
      for (const res of hanging) res.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const entry: ReceivedWebhook = { body: Buffer.concat(chunks).toString('utf8'), headers: req.headers, answered: false };
      received.push(entry);
      const answer = receiver.answer;
      if (answer === 'hang') hanging.push(res);
      else {
        entry.answered = true;
        res.writeHead(answer).end();
      }
      for (const w of waiting.filter((x) => x.count <= received.length)) {
        waiting.splice(waiting.indexOf(w), 1);
        w.resolve(received[w.count - 1]!);
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  receiver.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}${path}`;
  return receiver;
}
