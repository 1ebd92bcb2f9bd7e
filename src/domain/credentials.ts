// The shape of Keyport's credentials (docs/architecture.md, Security model): random identifiers, secrets
// that carry a checksum, and how secrets are hashed and compared.
import { createHash, hash, randomBytes, timingSafeEqual } from 'node:crypto';
import { crc32 } from 'node:zlib';

const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

/** Uniform base62 from crypto.randomBytes (bytes ≥ 248 are dropped to avoid modulo bias). */
export function randomBase62(length: number): string {
  let out = '';
  while (out.length < length) {
    for (const byte of randomBytes(length * 2)) {
      if (byte < 248) out += BASE62[byte % 62];
      if (out.length === length) break;
    }
  }
  return out;
}

function base62Fixed(value: number, width: number): string {
  let out = '';
  let rest = value;
  for (let i = 0; i < width; i++) {
    out = BASE62[rest % 62] + out;
    rest = Math.floor(rest / 62);
  }
  return out;
}

export const KEY_ID_PATTERN = /^kp_[0-9A-Za-z]{24}$/;
/** `kps_` + 43 base62 characters + the 6-character checksum of what precedes it. */
export const SECRET_PATTERN = /^kps_[0-9A-Za-z]{43}[0-9A-Za-z]{6}$/;
const SECRET_BODY_LENGTH = 4 + 43;

/**
 * The shape of every id Keyport issues (newKeyId, newId): the admin API and the
 * web UI check path ids against these before any database work.
 */
export const ID_PATTERNS = {
  accountId: /^acc_[0-9A-Za-z]{16}$/,
  environmentId: /^env_[0-9A-Za-z]{16}$/,
  userId: /^usr_[0-9A-Za-z]{16}$/,
  membershipId: /^mem_[0-9A-Za-z]{16}$/,
  keyId: KEY_ID_PATTERN,
  webhookId: /^whk_[0-9A-Za-z]{16}$/,
  deliveryId: /^whd_[0-9A-Za-z]{20}$/,
} as const;
export type IdKind = keyof typeof ID_PATTERNS;

export function newKeyId(): string {
  return `kp_${randomBase62(24)}`;
}

/** An id for accounts (acc_), environments (env_), users (usr_), memberships (mem_). */
export function newId(prefix: 'acc' | 'env' | 'usr' | 'mem'): string {
  return `${prefix}_${randomBase62(16)}`;
}

function checksum(body: string): string {
  // CRC32 fits in 6 base62 digits (62^6 > 2^32).
  return base62Fixed(crc32(body), 6);
}

/** `kps_` + 43 base62 characters (256 bits) + a 6-character CRC32 checksum. */
export function newSecret(): string {
  const body = `kps_${randomBase62(43)}`;
  return body + checksum(body);
}

/** True when the string has the secret format and its checksum matches: a cheap check before any database work. */
export function isWellFormedSecret(value: string): boolean {
  return SECRET_PATTERN.test(value) && checksum(value.slice(0, SECRET_BODY_LENGTH)) === value.slice(SECRET_BODY_LENGTH);
}

export function isWellFormedKeyId(value: string): boolean {
  return KEY_ID_PATTERN.test(value);
}

const SHA256_BLOCK_BYTES = 64;
const SHA256_BYTES = 32;

/**
 * HMAC-SHA-256 (RFC 2104) as two one-shot SHA-256 digests (node:crypto `hash`):
 * H((K ^ opad) || H((K ^ ipad) || message)), with both padded keys written once
 * into scratch buffers that each message reuses. createHmac sets the key up again
 * and builds two native hash objects on every call; copying prepared hash states
 * (this class's previous form) still built four. Measured on this machine, idle:
 * 1.5 µs per 53-character secret, against 2.0 µs (prepared states) and 1.6 µs
 * (createHmac with a KeyObject); under token load the gap is wider (fewer objects
 * for the collector). test/credentials.test.ts checks it against createHmac and
 * RFC 4231's vectors. Not re-entrant, and needs none: it never yields.
 */
export class PreparedHmacSha256 {
  /** (K ^ ipad) followed by room for the message. */
  #inner: Buffer;
  /** (K ^ opad) followed by the inner digest. */
  readonly #outer: Buffer;

  constructor(key: Buffer) {
    const block = Buffer.alloc(SHA256_BLOCK_BYTES);
    (key.length > SHA256_BLOCK_BYTES ? createHash('sha256').update(key).digest() : key).copy(block);
    this.#inner = Buffer.alloc(SHA256_BLOCK_BYTES + 256);
    this.#outer = Buffer.alloc(SHA256_BLOCK_BYTES + SHA256_BYTES);
    for (let i = 0; i < SHA256_BLOCK_BYTES; i++) {
      this.#inner[i] = block[i]! ^ 0x36;
      this.#outer[i] = block[i]! ^ 0x5c;
    }
    block.fill(0);
  }

  digest(message: string): Buffer {
    const length = Buffer.byteLength(message, 'utf8');
    if (SHA256_BLOCK_BYTES + length > this.#inner.length) {
      const larger = Buffer.alloc(SHA256_BLOCK_BYTES + length);
      this.#inner.copy(larger, 0, 0, SHA256_BLOCK_BYTES);
      this.#inner.fill(0);
      this.#inner = larger;
    }
    this.#inner.write(message, SHA256_BLOCK_BYTES, 'utf8');
    const end = SHA256_BLOCK_BYTES + length;
    hash('sha256', this.#inner.subarray(0, end), 'buffer').copy(this.#outer, SHA256_BLOCK_BYTES);
    this.#inner.fill(0, SHA256_BLOCK_BYTES, end); // the presented secret does not stay in the scratch buffer
    return hash('sha256', this.#outer, 'buffer');
  }
}

/**
 * HMAC-SHA-256 under a server-side pepper. A slow password hash buys nothing
 * for 256-bit random secrets and would cap the token endpoint (docs/architecture.md, Security model).
 */
export class SecretHasher {
  readonly #hmac: PreparedHmacSha256;
  readonly #dummy: Buffer;

  constructor(pepper: string) {
    this.#hmac = new PreparedHmacSha256(Buffer.from(pepper, 'utf8'));
    this.#dummy = this.#digest(newSecret());
  }

  #digest(secret: string): Buffer {
    return this.#hmac.digest(secret);
  }

  hash(secret: string): string {
    return this.#digest(secret).toString('base64url');
  }

  /**
   * Whether a presented secret matches any of the stored hashes: one HMAC,
   * compared in constant time with every hash (no early exit), so a key with
   * two live secrets (a grace period) costs what a key with one does, and what
   * an unknown key id does (burn).
   */
  matchesAny(secret: string, storedHashes: readonly string[]): boolean {
    const actual = this.#digest(secret);
    let matched = false;
    for (const storedHash of storedHashes) {
      const expected = Buffer.from(storedHash, 'base64url');
      if (expected.length === actual.length && timingSafeEqual(expected, actual)) matched = true;
    }
    return matched;
  }

  /**
   * Which of the stored hashes a presented secret matches (-1: none), with the
   * same cost as matchesAny: one HMAC, every hash compared, no early exit. The
   * token endpoint needs to know which secret matched (live or ended, and whose
   * usage to count).
   */
  matchIndex(secret: string, storedHashes: readonly string[]): number {
    const actual = this.#digest(secret);
    let matched = -1;
    for (let i = 0; i < storedHashes.length; i++) {
      const expected = Buffer.from(storedHashes[i]!, 'base64url');
      if (expected.length === actual.length && timingSafeEqual(expected, actual)) matched = i;
    }
    return matched;
  }

  /** The same work as a real comparison, for unknown key ids (docs/architecture.md, Security model). */
  burn(secret: string): void {
    timingSafeEqual(this.#dummy, this.#digest(secret));
  }
}
