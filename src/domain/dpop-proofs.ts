// DPoP proof replay (RFC 9449 §11.1): a proof is accepted once per keypair, in
// whichever process or worker it arrives, because the record of it is in the
// database (the single-use ids of replays.ts, which client assertions share)
// rather than in one process's memory.
import { createHash } from 'node:crypto';
import type { ReplayGuard } from './replays.ts';

export class DpopProofLog {
  readonly #replays: ReplayGuard;

  constructor(deps: { replays: ReplayGuard }) {
    this.#replays = deps.replays;
  }

  /**
   * True the first time a keypair presents the proof `jti` before `expiresAt`,
   * false for every later presentation. The id is a digest, so that neither
   * the key id nor the client-chosen jti is stored as given.
   */
  firstUse(keyId: string, jti: string, expiresAt: Date): Promise<boolean> {
    const id = `dpop:${createHash('sha256').update(`${keyId}\n${jti}`).digest('base64url')}`;
    // The real clock, not the domain's: oidc-provider judges a proof's iat, and so its expiry here, by it.
    return this.#replays.firstUse(id, expiresAt, new Date());
  }
}
