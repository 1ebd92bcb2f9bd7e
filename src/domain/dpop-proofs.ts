// DPoP proof replay (RFC 9449 §11.1): a proof is accepted once per keypair, in
// whichever process or worker it arrives, because the record of it is in the
// database rather than in one process's memory.
import { createHash } from 'node:crypto';
import type { DpopProofStore } from '../db/contract.ts';

/** Expired records are swept at most this often, after a claim and off its path. */
const SWEEP_EVERY_MS = 60_000;

export class DpopProofLog {
  readonly #store: DpopProofStore;
  #sweptAt = 0;

  constructor(deps: { store: DpopProofStore }) {
    this.#store = deps.store;
  }

  /**
   * True the first time a keypair presents the proof `jti` before `expiresAt`,
   * false for every later presentation. The id is a digest, so that neither
   * the key id nor the client-chosen jti is stored as given.
   */
  async firstUse(keyId: string, jti: string, expiresAt: Date): Promise<boolean> {
    const id = createHash('sha256').update(`${keyId}\n${jti}`).digest('base64url');
    // The real clock, not the domain's: oidc-provider judges a proof's iat, and so its expiry here, by it.
    const now = new Date();
    const first = await this.#store.claim(id, expiresAt, now);
    if (now.getTime() - this.#sweptAt >= SWEEP_EVERY_MS) {
      this.#sweptAt = now.getTime();
      this.#store.deleteExpired(now).catch(() => { /* only space: the next sweep retries */ });
    }
    return first;
  }
}
