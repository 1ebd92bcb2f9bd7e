// Public keys of key-based keypairs (private_key_jwt, RFC 7523 §2.2): what an
// upload may be (a JWK or a PEM public key), which keys and algorithms are
// accepted, and which stored keys are live. No HTTP, no database.
import { createPublicKey, type KeyObject } from 'node:crypto';
import { calculateJwkThumbprint, exportJWK } from 'jose';
import type { StoredPublicKey } from '../db/contract.ts';
import { invalidInput } from './errors.ts';

/** The signing algorithms a client assertion may use: asymmetric only (never `none`, never HMAC). */
export const ASSERTION_ALGS = ['ES256', 'ES384', 'EdDSA', 'RS256', 'PS256'] as const;
export type AssertionAlg = (typeof ASSERTION_ALGS)[number];
/** How many public keys one keypair holds, live or in a grace period. */
export const PUBLIC_KEYS_MAX = 5;
/** RSA keys below this size are refused (NIST SP 800-57: 2048 bits is the floor). */
export const RSA_MIN_BITS = 2048;
/** An upload is one key: a JWK or a PEM block is well under this. */
export const PUBLIC_KEY_INPUT_MAX = 16_384;

const ALGS_OF_KEY: Record<string, readonly AssertionAlg[]> = {
  RSA: ['RS256', 'PS256'],
  'EC:P-256': ['ES256'],
  'EC:P-384': ['ES384'],
  'OKP:Ed25519': ['EdDSA'],
};

/** The members of a private or symmetric JWK: their presence means the upload is not a public key. */
const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k', 'priv'];

export interface ParsedPublicKey {
  /** The public members only (kty, crv, x, y / n, e), plus `alg` when the upload pinned one. */
  jwk: Record<string, string>;
  /** RFC 7638 JWK SHA-256 thumbprint, base64url: the key's id everywhere in Keyport (and its `kid`). */
  thumbprint: string;
  /** The `kid` clients sign with: the upload's own kid, else the thumbprint. */
  kid: string;
  /** The algorithm the key is pinned to, or null: any of `algs`. */
  alg: AssertionAlg | null;
  /** The algorithms this key may sign assertions with. */
  algs: AssertionAlg[];
}

const refuse = (message: string) => invalidInput(message);

/**
 * Reads one uploaded public key: a JWK (JSON text or an object) or a PEM
 * public key (SPKI "PUBLIC KEY", or PKCS#1 "RSA PUBLIC KEY"). Refuses, with a
 * message that says why, private keys, symmetric keys, RSA keys under 2048 bits,
 * curves and algorithms outside ASSERTION_ALGS, and anything unreadable.
 */
export async function parsePublicKey(input: unknown): Promise<ParsedPublicKey> {
  let jwk: Record<string, unknown>;
  if (typeof input === 'string') {
    if (input.length > PUBLIC_KEY_INPUT_MAX) throw refuse(`the key must be at most ${PUBLIC_KEY_INPUT_MAX} characters`);
    const text = input.trim();
    if (text.startsWith('{')) {
      try {
        jwk = JSON.parse(text) as Record<string, unknown>;
      } catch {
        throw refuse('the key is neither a PEM public key nor valid JWK JSON');
      }
    } else if (text.startsWith('-----BEGIN')) {
      return fromPem(text);
    } else {
      throw refuse('give the public key as a JWK (JSON) or as PEM ("-----BEGIN PUBLIC KEY-----")');
    }
  } else if (input && typeof input === 'object' && !Array.isArray(input)) {
    jwk = input as Record<string, unknown>;
  } else {
    throw refuse('give the public key as a JWK (JSON) or as PEM ("-----BEGIN PUBLIC KEY-----")');
  }
  return fromJwk(jwk);
}

async function fromPem(pem: string): Promise<ParsedPublicKey> {
  const label = /^-----BEGIN ([A-Z0-9 ]+)-----/.exec(pem)?.[1] ?? '';
  if (label.includes('PRIVATE')) throw refuse('this is a private key: upload only the public key (e.g. openssl pkey -pubout)');
  if (label !== 'PUBLIC KEY' && label !== 'RSA PUBLIC KEY') throw refuse(`a PEM "${label}" is not accepted: give a "PUBLIC KEY" block`);
  let key: KeyObject;
  try {
    key = createPublicKey({ key: pem, format: 'pem', ...(label === 'RSA PUBLIC KEY' ? { type: 'pkcs1' as const } : {}) });
  } catch {
    throw refuse('the PEM public key could not be read');
  }
  return checked(key, await exportJWK(key), null, null);
}

async function fromJwk(jwk: Record<string, unknown>): Promise<ParsedPublicKey> {
  if (Array.isArray(jwk.keys)) throw refuse('give one JWK, not a JWK Set');
  if (jwk.kty === 'oct') throw refuse('symmetric keys (kty "oct") are not accepted: client assertions must be signed with a private key Keyport never sees');
  if (PRIVATE_MEMBERS.some((member) => member in jwk)) throw refuse('this JWK holds a private key: upload only the public key (without "d" and the other private members)');
  if (jwk.use !== undefined && jwk.use !== 'sig') throw refuse('the key\'s "use" must be "sig"');
  if (jwk.alg !== undefined && !(ASSERTION_ALGS as readonly unknown[]).includes(jwk.alg)) throw refuse(`alg must be one of ${ASSERTION_ALGS.join(', ')}`);
  const members = publicMembers(jwk);
  let key: KeyObject;
  try {
    key = createPublicKey({ key: members, format: 'jwk' });
  } catch {
    throw refuse(`the JWK is not a valid public key (kty RSA, EC P-256/P-384 or OKP Ed25519)`);
  }
  if (jwk.kid !== undefined && (typeof jwk.kid !== 'string' || !/^[\x21-\x7e]{1,200}$/.test(jwk.kid))) throw refuse('kid must be printable ASCII without spaces, at most 200 characters');
  return checked(key, members, (jwk.alg as AssertionAlg | undefined) ?? null, (jwk.kid) ?? null);
}

/** The public members a key type has; anything else in the upload is dropped. */
function publicMembers(jwk: Record<string, unknown>): Record<string, string> {
  const names = jwk.kty === 'RSA' ? ['kty', 'n', 'e'] : jwk.kty === 'EC' ? ['kty', 'crv', 'x', 'y'] : jwk.kty === 'OKP' ? ['kty', 'crv', 'x'] : null;
  if (!names) throw refuse('kty must be RSA, EC or OKP');
  const out: Record<string, string> = {};
  for (const name of names) {
    const value = jwk[name];
    if (typeof value !== 'string' || value === '') throw refuse(`the JWK lacks "${name}"`);
    out[name] = value;
  }
  return out;
}

async function checked(key: KeyObject, exported: Record<string, unknown>, alg: AssertionAlg | null, kid: string | null): Promise<ParsedPublicKey> {
  const jwk = publicMembers(exported);
  const type = jwk.kty === 'RSA' ? 'RSA' : `${jwk.kty}:${jwk.crv}`;
  const algs = ALGS_OF_KEY[type];
  if (!algs) throw refuse(`${jwk.kty === 'EC' ? `curve ${jwk.crv}` : jwk.kty === 'OKP' ? `curve ${jwk.crv}` : 'this key type'} is not accepted: use EC P-256 (ES256), EC P-384 (ES384), Ed25519 (EdDSA) or RSA ≥ ${RSA_MIN_BITS} bits (RS256, PS256)`);
  if (jwk.kty === 'RSA') {
    const bits = key.asymmetricKeyDetails?.modulusLength ?? 0;
    if (bits < RSA_MIN_BITS) throw refuse(`RSA keys must have at least ${RSA_MIN_BITS} bits (this one has ${bits})`);
  }
  if (alg && !algs.includes(alg)) throw refuse(`alg ${alg} does not belong to this key: it signs with ${algs.join(' or ')}`);
  const thumbprint = await calculateJwkThumbprint(jwk, 'sha256');
  return { jwk: alg ? { ...jwk, alg } : jwk, thumbprint, kid: kid ?? thumbprint, alg, algs: alg ? [alg] : [...algs] };
}

/** The algorithms a stored or parsed public JWK may sign with: its pinned alg, else every one its type allows. */
export function keyAlgs(jwk: Record<string, string>): AssertionAlg[] {
  if (jwk.alg) return [jwk.alg as AssertionAlg];
  return [...(ALGS_OF_KEY[jwk.kty === 'RSA' ? 'RSA' : `${jwk.kty}:${jwk.crv}`] ?? [])];
}

/** The keys that authenticate at `now`: current ones, and retired ones still in their grace period. */
export function livePublicKeys(keys: readonly StoredPublicKey[] | undefined, now: Date): StoredPublicKey[] {
  return (keys ?? []).filter((key) => key.expiresAt === null || key.expiresAt.getTime() > now.getTime());
}

/** The JWK oidc-provider verifies with: the stored public members, its `kid`, `use: sig`. */
export function verificationJwk(key: StoredPublicKey): Record<string, string> {
  return { ...key.jwk, kid: key.kid, use: 'sig' };
}
