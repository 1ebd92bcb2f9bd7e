// Closing an owner (docs/architecture.md, Closing an owner): an environment, or an account with all of its
// environments. Irreversible: every keypair the owner holds is removed.
//
// No multi-document transactions (FerretDB and standalone MongoDB have none), so
// the cascade is a sequence of single-document atomic, idempotent steps:
//   1. status active → closing (from here on OwnerService.isActive is false: its
//      keypairs get no tokens and their tokens introspect inactive);
//   2. remove the keypairs, one by one (each removal is audited);
//   3. status closing → closed.
// A crash anywhere leaves the owner 'closing'; resumePending() (at startup)
// runs the remaining steps again. Running a step twice changes nothing.
import type { KeypairStore, OwnerStore } from '../db/contract.ts';
import type { Actor, AuditLog } from './audit.ts';
import { DomainError, notFound } from './errors.ts';
import type { KeypairService } from './keypairs.ts';
import type { RevocationFeed } from './revocation-feed.ts';
import type { AccountView, EnvironmentView, OwnerService } from './owners.ts';

export class OwnerClosing {
  readonly #ownerStore: OwnerStore;
  readonly #keypairStore: KeypairStore;
  readonly #owners: OwnerService;
  readonly #keypairs: KeypairService;
  readonly #audit: AuditLog;
  readonly #revocationFeed: RevocationFeed | undefined;

  constructor(deps: { ownerStore: OwnerStore; keypairStore: KeypairStore; owners: OwnerService; keypairs: KeypairService; audit: AuditLog; revocationFeed?: RevocationFeed }) {
    this.#ownerStore = deps.ownerStore;
    this.#keypairStore = deps.keypairStore;
    this.#owners = deps.owners;
    this.#keypairs = deps.keypairs;
    this.#audit = deps.audit;
    this.#revocationFeed = deps.revocationFeed;
  }

  /** Closes an environment. Closing one that is closing (resume) or closed (no-op) is fine. */
  async closeEnvironment(environmentId: string, actor: Actor): Promise<EnvironmentView> {
    const env = await this.#ownerStore.findEnvironment(String(environmentId));
    if (!env) throw notFound('environment');
    if (env.status === 'closed') return this.#owners.getEnvironment(env._id);
    await this.#markClosing('environment', env._id, env.accountId, actor);
    // After the status (a failed close must not revoke an owner still active); again on a resumed close, which is harmless.
    await this.#revocationFeed?.ownerClosed('environment', env._id);
    await this.#removeKeypairs({ environmentId: env._id }, actor);
    await this.#markClosed('environment', env._id, env.accountId, actor);
    return this.#owners.getEnvironment(env._id);
  }

  /** Closes an account: the account first (which already stops all its keypairs), then each environment, then the account's own keypairs. */
  async closeAccount(accountId: string, actor: Actor): Promise<AccountView> {
    const account = await this.#ownerStore.findAccount(String(accountId));
    if (!account) throw notFound('account');
    if (account.status === 'closed') return this.#owners.getAccount(account._id);
    await this.#markClosing('account', account._id, account._id, actor);
    await this.#revocationFeed?.ownerClosed('account', account._id);
    const environments = await this.#ownerStore.listEnvironments(account._id, { notClosed: true });
    for (const env of environments) {
      try {
        await this.closeEnvironment(env._id, actor);
      } catch (err) {
        // An environment created while the account began closing is withdrawn by its creator (OwnerService.afterCreating).
        if (!(err instanceof DomainError && err.code === 'not_found')) throw err;
      }
    }
    // Every keypair of the account: its own, and any an environment might still hold.
    await this.#removeKeypairs({ accountId: account._id }, actor);
    await this.#markClosed('account', account._id, account._id, actor);
    return this.#owners.getAccount(account._id);
  }

  /** Finishes every cascade left half-way (a crash or a restart while closing). Returns what it finished. */
  async resumePending(): Promise<{ accounts: string[]; environments: string[] }> {
    const accounts = await this.#ownerStore.idsWithStatus('account', 'closing');
    for (const id of accounts) await this.closeAccount(id, 'system');
    const environments = await this.#ownerStore.idsWithStatus('environment', 'closing');
    for (const id of environments) await this.closeEnvironment(id, 'system');
    return { accounts, environments };
  }

  /** active → closing: from here on no token for its keypairs, in any process (OwnerService.isActive). */
  async #markClosing(type: 'account' | 'environment', id: string, accountId: string, actor: Actor): Promise<void> {
    await this.#advance(type, id, accountId, actor, 'active', 'closing');
  }

  /** closing → closed, once its keypairs are gone; already closed is fine, anything else is a conflict. */
  async #markClosed(type: 'account' | 'environment', id: string, accountId: string, actor: Actor): Promise<void> {
    if (await this.#advance(type, id, accountId, actor, 'closing', 'closed')) return;
    const status = await this.#ownerStore.findStatus(id);
    if (status !== 'closed') throw new DomainError('conflict', `the ${type} could not be closed (status ${status ?? 'missing'})`);
  }

  /**
   * One idempotent step of the cascade: moves the owner from one status to the
   * next (if it is still in the first), tells every process's cache, and audits
   * the step when this call made it. Returns whether it did.
   */
  async #advance(type: 'account' | 'environment', id: string, accountId: string, actor: Actor, from: 'active' | 'closing', to: 'closing' | 'closed'): Promise<boolean> {
    if (!(await this.#owners.transition(type, id, from, to))) return false;
    await this.#audit.record({ actor, action: `${type}.${to}`, accountId, environmentId: type === 'environment' ? id : null });
    return true;
  }

  /** Removes keypairs in batches through KeypairService.remove (one audit event each); a keypair already gone is skipped. */
  async #removeKeypairs(filter: { accountId: string } | { environmentId: string }, actor: Actor): Promise<void> {
    for (;;) {
      const batch = await this.#keypairStore.listIds(filter, 100);
      if (!batch.length) return;
      for (const _id of batch) {
        try {
          await this.#keypairs.remove(_id, actor);
        } catch (err) {
          if (!(err instanceof DomainError && err.code === 'not_found')) throw err;
        }
      }
    }
  }
}
