// Webhook signatures, Stripe's scheme: `Keyport-Signature: t=<unix seconds>,v1=<hex>`
// where v1 is HMAC-SHA-256(endpoint secret, "<t>.<body>"). The timestamp is
// signed with the body, so that a receiver refuses replays older than its
// window (verifyWebhook in keyport/verify checks both).
import { createHmac } from 'node:crypto';

export const SIGNATURE_HEADER = 'Keyport-Signature';

export function webhookSignature(secret: string, timestamp: number, body: string): string {
  const mac = createHmac('sha256', secret).update(`${timestamp}.${body}`, 'utf8').digest('hex');
  return `t=${timestamp},v1=${mac}`;
}
