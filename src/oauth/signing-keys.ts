// Keeps this process's token signing in step with the stored signing keys
// (src/domain/signing-keys.ts): oidc-provider signs with the current key and
// publishes the next, current and retired ones at /oauth/jwks; Keyport's own
// access token verifier accepts exactly the published keys. A change of keys
// reaches this process through the change feed (within a poll); a check every
// minute catches a lost poll and performs the scheduled steps (a key taking
// over, the following key to publish, a retired key leaving the JWKS).
import type Provider from 'oidc-provider';
import type { Domain } from '../domain/index.ts';
import type { SigningKeySet, SigningMaterial } from '../domain/signing-keys.ts';
import type { Logger } from '../log.ts';
import { AccessTokenVerifier } from './access-tokens.ts';
import { ProviderHolder } from './provider-holder.ts';

export { SIGNING_ALG, type SigningMaterial } from '../domain/signing-keys.ts';
export { JWKS_MAX_AGE_SECONDS } from '../domain/signing-key-schedule.ts';

const CHECK_EVERY_MS = 60_000;

/** The keys a process starts with (SigningKeyRing.load). */
export interface InitialSigningKeys {
  set: SigningKeySet;
  material: SigningMaterial;
}

export interface SigningKeyRingOptions {
  domain: Domain;
  initial: InitialSigningKeys;
  issuer: string;
  /** Builds oidc-provider with these keys (it cannot change them afterwards). */
  buildProvider: (material: SigningMaterial) => Provider;
  log: Logger;
}

export class SigningKeyRing {
  readonly providers: ProviderHolder;
  readonly verifier: AccessTokenVerifier;
  readonly #domain: Domain;
  readonly #build: (material: SigningMaterial) => Provider;
  readonly #log: Logger;
  #version: string;
  #signingKid: string;
  /** The keys as this process uses them now (the revocation feed is signed with the signing one). */
  #material: SigningMaterial;
  #timer: NodeJS.Timeout | null = null;
  /** Updates run one after the other, in the order asked for. */
  #tail: Promise<void> = Promise.resolve();

  /**
   * Writes what the schedule asks for (the first keys on an empty database) and
   * decrypts the keys: before the server listens, so that a wrong key
   * encryption key stops it at once.
   */
  static async load(domain: Domain): Promise<InitialSigningKeys> {
    const set = await domain.signingKeys.ensure();
    return { set, material: await domain.signingKeys.material(set) };
  }

  /** Builds the provider with the initial keys and follows their changes from then on. */
  constructor(options: SigningKeyRingOptions) {
    const { set, material } = options.initial;
    this.#domain = options.domain;
    this.#build = options.buildProvider;
    this.#log = options.log;
    this.#version = set.version;
    this.#signingKid = set.signingKid;
    this.#material = material;
    this.providers = new ProviderHolder(this.#build(material));
    this.verifier = new AccessTokenVerifier(options.issuer, material.publicJwks);
    this.#domain.changes.onChange((kind) => {
      if (kind === 'signing-key') this.refresh().catch(() => { /* logged in #update; the minute's check tries again */ });
    });
    this.#timer = setInterval(() => void this.check().catch(() => { /* logged in #update */ }), CHECK_EVERY_MS);
    this.#timer.unref();
  }

  /** Performs the scheduled steps that are due, and takes up the keys as they then stand. */
  check(): Promise<void> {
    return this.#update(() => this.#domain.signingKeys.ensure());
  }

  /** Takes up the keys as they stand (another process changed them). */
  refresh(): Promise<void> {
    return this.#update(() => this.#domain.signingKeys.current());
  }

  /** The private key that signs tokens now, with its kid: what else Keyport signs for resource servers (the revocation feed) is signed with it too. */
  signingKey(): { kid: string; privateJwk: SigningMaterial['privateJwks'][number] } {
    const material = this.#material;
    return { kid: material.signingKid, privateJwk: material.privateJwks.find((jwk) => jwk.kid === material.signingKid)! };
  }

  stop(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = null;
  }

  #update(read: () => Promise<SigningKeySet>): Promise<void> {
    const run = this.#tail.then(async () => {
      try {
        const set = await read();
        if (set.version === this.#version) return;
        const material = await this.#domain.signingKeys.material(set);
        // Both at once, with nothing awaited in between: no request sees the new keys on one side only.
        this.providers.replace(this.#build(material));
        this.verifier.setKeys(material.publicJwks);
        this.#material = material;
        if (set.signingKid !== this.#signingKid) this.#log.info({ kid: set.signingKid, previousKid: this.#signingKid }, 'tokens are now signed with another key');
        this.#log.info({ kids: material.publicJwks.keys.map((key) => key.kid) }, 'published token signing keys');
        this.#version = set.version;
        this.#signingKid = set.signingKid;
      } catch (err) {
        this.#log.error({ err: { message: err instanceof Error ? err.message : String(err) } }, 'failed: updating the token signing keys');
        throw err;
      }
    });
    this.#tail = run.catch(() => {});
    return run;
  }
}
