// One webhook request: POST the signed body, within a time limit, only to
// addresses the policy allows (checked on the address actually connected to,
// so a name that resolves elsewhere since the endpoint was added cannot lead
// Keyport into a private network). Redirects are not followed: a 3xx is a
// failed attempt, like any answer other than 2xx.
import { lookup as dnsLookup, type LookupAddress, type LookupOptions } from 'node:dns';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { isIP, type LookupFunction } from 'node:net';
import type { AttemptOutcome } from '../domain/webhooks.ts';
import { hostOf, refusedAddress, type WebhookUrlPolicy } from '../domain/webhook-urls.ts';

const USER_AGENT = 'Keyport-Webhooks/1';
/** The receiver's answer is not used: read this much at most, then drop the connection. */
const MAX_RESPONSE_BYTES = 64 * 1024;

/** A DNS lookup that refuses addresses the policy does not allow (also used to fetch federated issuers' keys). */
export function guardedLookup(protocol: string, policy: WebhookUrlPolicy): LookupFunction {
  return ((hostname: string, options: LookupOptions, callback: (err: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void) => {
    dnsLookup(hostname, { ...options, all: true }, (err, addresses) => {
      if (err) return callback(err, []);
      for (const { address } of addresses) {
        const refused = refusedAddress(address, protocol, policy);
        if (refused) return callback(Object.assign(new Error(`refused: ${refused}`), { code: 'EADDRNOTALLOWED' }), []);
      }
      if (options.all) return callback(null, addresses);
      return callback(null, addresses[0]!.address, addresses[0]!.family);
    });
  });
}

export interface SendOptions {
  policy: WebhookUrlPolicy;
  timeoutMs: number;
  /** Aborts the attempt (the server is stopping). */
  signal?: AbortSignal;
}

export function sendWebhook(url: string, headers: Record<string, string>, body: string, options: SendOptions): Promise<AttemptOutcome> {
  const target = new URL(url);
  const host = hostOf(target);
  if (isIP(host)) {
    const refused = refusedAddress(host, target.protocol, options.policy);
    if (refused) return Promise.resolve({ error: `refused: ${refused}` });
  }
  const request = target.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise((resolve) => {
    let settled = false;
    const done = (outcome: AttemptOutcome) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      options.signal?.removeEventListener('abort', onAbort);
      resolve(outcome);
    };
    const req = request(target, {
      method: 'POST',
      headers: { ...headers, 'Content-Type': 'application/json', 'Content-Length': String(Buffer.byteLength(body)), 'User-Agent': USER_AGENT },
      lookup: guardedLookup(target.protocol, options.policy),
      // A fresh connection per attempt: each is checked, and a receiver's kept-alive socket holds nothing up.
      agent: false,
    }, (res: IncomingMessage) => {
      let received = 0;
      res.on('data', (chunk: Buffer) => {
        received += chunk.length;
        if (received > MAX_RESPONSE_BYTES) res.destroy();
      });
      const finish = () => { done({ status: res.statusCode ?? 0 }); req.destroy(); };
      res.on('end', finish);
      res.on('close', finish);
      res.on('error', finish);
    });
    const timer = setTimeout(() => {
      done({ error: `no answer within ${options.timeoutMs} ms` });
      req.destroy();
    }, options.timeoutMs);
    const onAbort = () => {
      done({ error: 'Keyport stopped during the attempt' });
      req.destroy();
    };
    options.signal?.addEventListener('abort', onAbort, { once: true });
    req.on('error', (err: NodeJS.ErrnoException) => done({ error: err.message.startsWith('refused:') ? err.message : `${err.code ?? 'error'}: ${err.message}` }));
    req.end(body);
  });
}
