// Where webhooks may be sent. Keyport makes the request, so an endpoint URL
// must not turn it into a way into the network it runs in (SSRF): only https
// to public addresses, unless the operator allows loopback (tests, local
// development, http too) or private networks (on-premise receivers). The
// addresses are checked when an endpoint is added and again at every delivery
// (src/webhooks/send.ts), since a name may resolve elsewhere later.
import { lookup } from 'node:dns/promises';
import { BlockList, isIP } from 'node:net';
import { invalidInput } from './errors.ts';

export interface WebhookUrlPolicy {
  allowLoopback: boolean;
  allowPrivateNetworks: boolean;
}

export const WEBHOOK_URL_MAX = 2048;

const loopback = new BlockList();
loopback.addSubnet('127.0.0.0', 8, 'ipv4');
loopback.addAddress('::1', 'ipv6');

/** Not on the public internet: private, shared, link-local, reserved, multicast, documentation and translation ranges. */
const nonPublic = new BlockList();
for (const [net, prefix] of [
  ['0.0.0.0', 8], ['10.0.0.0', 8], ['100.64.0.0', 10], ['169.254.0.0', 16], ['172.16.0.0', 12], ['192.0.0.0', 24],
  ['192.0.2.0', 24], ['192.88.99.0', 24], ['192.168.0.0', 16], ['198.18.0.0', 15], ['198.51.100.0', 24], ['203.0.113.0', 24],
  ['224.0.0.0', 4], ['240.0.0.0', 4],
] as const) nonPublic.addSubnet(net, prefix, 'ipv4');
for (const [net, prefix] of [
  ['::', 128], ['::ffff:0:0', 96], ['64:ff9b::', 96], ['64:ff9b:1::', 48], ['100::', 64], ['2001::', 23], ['2001:db8::', 32],
  ['2002::', 16], ['fc00::', 7], ['fe80::', 10], ['fec0::', 10], ['ff00::', 8],
] as const) nonPublic.addSubnet(net, prefix, 'ipv6');

/** An IPv4 address written as IPv6 (::ffff:a.b.c.d, or ::ffff:7f00:1 as URLs spell it), as IPv4; otherwise null. */
function mappedIpv4(address: string): string | null {
  const match = /^(?:0{0,4}:){0,5}:?ffff:(?:(\d+\.\d+\.\d+\.\d+)|([0-9a-f]{1,4}):([0-9a-f]{1,4}))$/i.exec(address);
  if (!match) return null;
  if (match[1]) return match[1];
  const high = parseInt(match[2]!, 16);
  const low = parseInt(match[3]!, 16);
  return `${high >> 8}.${high & 255}.${low >> 8}.${low & 255}`;
}

export type AddressKind = 'loopback' | 'private' | 'public';

export function addressKind(address: string): AddressKind {
  const bare = address.replace(/^\[|\]$/g, '').replace(/%.*$/, '');
  const v4 = isIP(bare) === 6 ? mappedIpv4(bare) : null;
  const ip = v4 ?? bare;
  const family = isIP(ip) === 4 ? 'ipv4' : 'ipv6';
  if (loopback.check(ip, family)) return 'loopback';
  if (nonPublic.check(ip, family)) return 'private';
  return 'public';
}

/** Why Keyport may not send to this address with this protocol; null when it may. */
export function refusedAddress(address: string, protocol: string, policy: WebhookUrlPolicy): string | null {
  const kind = addressKind(address);
  if (kind === 'loopback') {
    return policy.allowLoopback ? null : `${address} is a loopback address (allowed only with webhooks.allowLoopback, for tests and local development)`;
  }
  if (protocol !== 'https:') return 'webhook URLs must use https:// (http:// only on loopback, with webhooks.allowLoopback)';
  if (kind === 'private') {
    return policy.allowPrivateNetworks ? null : `${address} is not a public address (private networks are allowed only with webhooks.allowPrivateNetworks)`;
  }
  return null;
}

/** The URL's host as an address or a name (IPv6 literals without their brackets). */
export function hostOf(url: URL): string {
  return url.hostname.replace(/^\[|\]$/g, '');
}

/**
 * Checks an endpoint URL and the addresses its host resolves to now; returns
 * the URL as Keyport will call it. Throws invalid_input with the reason.
 */
export async function checkWebhookUrl(raw: string, policy: WebhookUrlPolicy, resolve: (host: string) => Promise<string[]> = resolveHost): Promise<string> {
  if (raw.length > WEBHOOK_URL_MAX || !URL.canParse(raw)) throw invalidInput('url is not a valid URL');
  const url = new URL(raw);
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw invalidInput('url must be an https:// URL');
  if (url.username || url.password) throw invalidInput('url must not hold a user name or password: the signature authenticates Keyport to the receiver');
  if (url.hash || raw.includes('#')) throw invalidInput('url must have no fragment (#)');
  const host = hostOf(url);
  let addresses: string[];
  if (isIP(host)) addresses = [host];
  else {
    try {
      addresses = await resolve(host);
    } catch {
      throw invalidInput(`url: the host ${host} cannot be resolved`);
    }
    if (!addresses.length) throw invalidInput(`url: the host ${host} cannot be resolved`);
  }
  for (const address of addresses) {
    const refused = refusedAddress(address, url.protocol, policy);
    if (refused) throw invalidInput(`url is not allowed: ${refused}`);
  }
  return url.toString();
}

async function resolveHost(host: string): Promise<string[]> {
  return (await lookup(host, { all: true, verbatim: true })).map((a) => a.address);
}
