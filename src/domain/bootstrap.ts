// First start on an empty database (docs/architecture.md, First start): the first administrator.
//
// - With KEYPORT_BOOTSTRAP_ADMIN_EMAIL / KEYPORT_BOOTSTRAP_ADMIN_PASSWORD set, the
//   server creates that user and an account "Default" they administer.
// - Either way the first administrator is an operator (may create accounts), so
//   that a fresh installation can be run from the web UI alone.
// - Otherwise it issues a one-time setup token (the caller prints it as a link):
//   random, stored only as its SHA-256, valid until used or for 24 hours, and
//   replaced by a newer one at the next start while nobody has used it. Its page
//   lets the first administrator choose an email, a password and an account name.
//
// Nothing happens once any user exists. No HTTP in here.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { SetupTokenRecord, SetupTokenStore } from '../db/contract.ts';
import type { AuditLog } from './audit.ts';
import type { Clock } from './clock.ts';
import { DomainError, invalidInput } from './errors.ts';
import { validName, type AccountView, type OwnerService } from './owners.ts';
import type { UserService, UserView } from './users.ts';

export const SETUP_TOKEN_TTL_MS = 24 * 60 * 60 * 1000;
export const DEFAULT_ACCOUNT_NAME = 'Default';
/** A claim that never completed (a crash between claim and user creation) is released after this. */
const CLAIM_TIMEOUT_MS = 60_000;

const digest = (token: string) => createHash('sha256').update(String(token), 'utf8').digest();

export type BootstrapOutcome =
  | { kind: 'not_needed' }
  | { kind: 'admin_created'; user: UserView; account: AccountView }
  | { kind: 'setup_token'; token: string; expiresAt: Date };

export class Bootstrap {
  readonly #store: SetupTokenStore;
  readonly #users: UserService;
  readonly #owners: OwnerService;
  readonly #audit: AuditLog;
  readonly #clock: Clock;

  constructor(deps: { store: SetupTokenStore; users: UserService; owners: OwnerService; audit: AuditLog; clock: Clock }) {
    this.#store = deps.store;
    this.#users = deps.users;
    this.#owners = deps.owners;
    this.#audit = deps.audit;
    this.#clock = deps.clock;
  }

  /** True while no user exists: the installation has no administrator yet. */
  async needed(): Promise<boolean> {
    return (await this.#users.countUsers()) === 0;
  }

  /**
   * Runs at server start. `admin` comes from KEYPORT_BOOTSTRAP_ADMIN_EMAIL /
   * KEYPORT_BOOTSTRAP_ADMIN_PASSWORD (both or neither). Returns the setup token
   * in plain text when one was issued: the only time it exists outside a link.
   */
  async atStartup(admin: { email: string; password: string } | null): Promise<BootstrapOutcome> {
    if (!(await this.needed())) {
      await this.#store.delete();
      return { kind: 'not_needed' };
    }
    if (admin) {
      const user = await this.#users.createUser({ ...admin, operator: true }, 'system');
      const account = await this.#owners.createAccount({ name: DEFAULT_ACCOUNT_NAME }, 'system');
      await this.#users.grant(user.id, { type: 'account', accountId: account.id, environmentId: null }, 'admin', 'system');
      await this.#audit.record({ actor: 'system', action: 'bootstrap.admin_created', accountId: account.id, details: { userId: user.id, email: user.email, source: 'environment' } });
      return { kind: 'admin_created', user, account };
    }
    return this.issueSetupToken();
  }

  /** A new setup token; any earlier one stops working. */
  async issueSetupToken(): Promise<{ kind: 'setup_token'; token: string; expiresAt: Date }> {
    const token = randomBytes(32).toString('base64url');
    const now = this.#clock.now();
    const expiresAt = new Date(now.getTime() + SETUP_TOKEN_TTL_MS);
    await this.#store.replace({ hash: digest(token).toString('base64url'), createdAt: now, expiresAt, claimedAt: null });
    await this.#audit.record({ actor: 'system', action: 'bootstrap.setup_link_issued', details: { expiresAt: expiresAt.toISOString() } });
    return { kind: 'setup_token', token, expiresAt };
  }

  /** True when the token is the current, unexpired, unused setup token and no user exists yet. */
  async isValidSetupToken(token: string): Promise<boolean> {
    if (typeof token !== 'string' || token.length < 20 || token.length > 100) return false;
    const doc = await this.#store.find();
    const now = this.#clock.now();
    if (!doc || doc.expiresAt <= now || (doc.claimedAt && doc.claimedAt.getTime() > now.getTime() - CLAIM_TIMEOUT_MS)) return false;
    if (!this.#matches(doc, token)) return false;
    return this.needed();
  }

  /**
   * Completes the setup: the first administrator and their account. The token is
   * claimed first (one atomic update), so two submissions cannot both succeed; a
   * failure (an invalid email, a short password) releases it for another try.
   */
  async completeSetup(token: string, input: { email: string; password: string; accountName?: string }): Promise<{ user: UserView; account: AccountView }> {
    const accountName = validName(input.accountName?.trim() ? input.accountName : DEFAULT_ACCOUNT_NAME, 'account name');
    if (!(await this.isValidSetupToken(token))) throw new DomainError('forbidden', 'this setup link is not valid: it was used, it expired, or a newer one was printed');
    const now = this.#clock.now();
    const hash = digest(token).toString('base64url');
    const claimed = await this.#store.claim(hash, now, new Date(now.getTime() - CLAIM_TIMEOUT_MS));
    if (!claimed) throw new DomainError('forbidden', 'this setup link is not valid: it was used, it expired, or a newer one was printed');
    let user: UserView;
    try {
      if (!(await this.needed())) throw new DomainError('forbidden', 'Keyport already has an administrator');
      user = await this.#users.createUser({ email: input.email, password: input.password, operator: true }, 'system');
    } catch (err) {
      await this.#store.release(hash);
      throw err;
    }
    await this.#store.delete(hash);
    const account = await this.#owners.createAccount({ name: accountName }, `user:${user.id}`);
    await this.#users.grant(user.id, { type: 'account', accountId: account.id, environmentId: null }, 'admin', 'system');
    await this.#audit.record({ actor: `user:${user.id}`, action: 'bootstrap.admin_created', accountId: account.id, details: { userId: user.id, email: user.email, source: 'setup_link' } });
    return { user, account };
  }

  #matches(doc: SetupTokenRecord, token: string): boolean {
    const expected = Buffer.from(doc.hash, 'base64url');
    const actual = digest(token);
    return expected.length === actual.length && timingSafeEqual(expected, actual);
  }
}

/** Reads KEYPORT_BOOTSTRAP_ADMIN_EMAIL / KEYPORT_BOOTSTRAP_ADMIN_PASSWORD: both or neither. */
export function bootstrapAdminFromEnv(env: Record<string, string | undefined>): { email: string; password: string } | null {
  const email = env.KEYPORT_BOOTSTRAP_ADMIN_EMAIL?.trim();
  const password = env.KEYPORT_BOOTSTRAP_ADMIN_PASSWORD;
  if (!email && !password) return null;
  if (!email || !password) {
    throw invalidInput('set both KEYPORT_BOOTSTRAP_ADMIN_EMAIL and KEYPORT_BOOTSTRAP_ADMIN_PASSWORD, or neither');
  }
  return { email, password };
}
