// Bulk actions on an owner's keypairs (the web UI's "Disable selected" and
// "Remove selected"): the selection is checked keypair by keypair, with the
// same policy as a single action (an id the caller may not manage, or of
// another owner, is skipped, never acted on), then each is disabled or removed
// through KeypairService, audited exactly as a single action. No HTTP in here.
import { type AccessService, type ActorAccess } from './access.ts';
import { isWellFormedKeyId } from './credentials.ts';
import { DomainError, StoreConflictError } from './errors.ts';
import type { KeypairService } from './keypairs.ts';
import type { KeypairView } from './keypair-views.ts';
import type { Owner } from './owners.ts';

/** At most this many keypairs per request: one page of the list at its largest. */
export const BULK_MAX = 100;

export type BulkAction = 'disable' | 'remove';
export const BULK_ACTIONS: readonly BulkAction[] = ['disable', 'remove'];

/** A selected keypair that will not be acted on, and why (in words for the result page). */
export interface BulkSkip {
  keyId: string;
  /** Null when the caller may not see the keypair: its name is not theirs to know. */
  name: string | null;
  reason: string;
}

/** What was done to one selected keypair. */
export type BulkOutcome = { keyId: string; name: string; outcome: 'done' } | (BulkSkip & { outcome: 'skipped' });

export class KeypairBulk {
  readonly #access: AccessService;
  readonly #keypairs: KeypairService;

  constructor(deps: { access: AccessService; keypairs: KeypairService }) {
    this.#access = deps.access;
    this.#keypairs = deps.keypairs;
  }

  /**
   * The selection as the confirmation shows it: the keypairs of `owner` the
   * caller may act on, and the others with the reason each will be skipped.
   * Changes nothing. Throws invalid_input for an empty or too large selection.
   */
  async check(actor: ActorAccess, owner: Owner, action: BulkAction, keyIds: readonly string[]): Promise<{ acting: KeypairView[]; skipped: BulkSkip[] }> {
    const acting: KeypairView[] = [];
    const skipped: BulkSkip[] = [];
    for (const keyId of selection(action, keyIds)) {
      const checked = await this.#checkOne(actor, owner, action, keyId);
      if ('reason' in checked) skipped.push(checked);
      else acting.push(checked);
    }
    return { acting, skipped };
  }

  /**
   * Disables or removes each selected keypair the caller may act on, one after
   * another, each checked again at its turn (the confirmation may be old, or
   * forged). Returns one outcome per distinct id, in the order given.
   */
  async run(actor: ActorAccess, owner: Owner, action: BulkAction, keyIds: readonly string[]): Promise<BulkOutcome[]> {
    const outcomes: BulkOutcome[] = [];
    for (const keyId of selection(action, keyIds)) {
      const checked = await this.#checkOne(actor, owner, action, keyId);
      if ('reason' in checked) {
        outcomes.push({ ...checked, outcome: 'skipped' });
        continue;
      }
      try {
        if (action === 'disable') await this.#keypairs.setEnabled(keyId, false, actor.actor);
        else await this.#keypairs.remove(keyId, actor.actor);
        outcomes.push({ keyId, name: checked.name, outcome: 'done' });
      } catch (err) {
        // Removed or busy between the check and the change: that one is skipped, the others go on.
        const reason = skipReason(err);
        if (!reason) throw err;
        outcomes.push({ keyId, name: checked.name, outcome: 'skipped', reason });
      }
    }
    return outcomes;
  }

  async #checkOne(actor: ActorAccess, owner: Owner, action: BulkAction, keyId: string): Promise<KeypairView | BulkSkip> {
    if (!isWellFormedKeyId(keyId)) return { keyId, name: null, reason: 'not a key id' };
    let keypair: KeypairView;
    try {
      // The same policy as the single action: not found (or not visible), not allowed, owner closed.
      ({ keypair } = await this.#access.authorize(actor, 'keypairs.manage', { keyId }) as { keypair: KeypairView });
    } catch (err) {
      const reason = skipReason(err);
      if (!reason) throw err;
      return { keyId, name: null, reason };
    }
    // Only the keypairs of the list it was chosen from: an account's admin
    // selecting on the account's list does not reach its environments' keypairs.
    if (keypair.accountId !== owner.accountId || keypair.environmentId !== owner.environmentId) {
      return { keyId, name: keypair.name, reason: `not a keypair of this ${owner.type}` };
    }
    if (action === 'disable' && !keypair.enabled) return { keyId, name: keypair.name, reason: 'already disabled' };
    return keypair;
  }
}

/** The distinct ids, in order; refuses an empty selection, an unknown action and more than BULK_MAX ids. */
function selection(action: BulkAction, keyIds: readonly string[]): string[] {
  if (!BULK_ACTIONS.includes(action)) throw new DomainError('invalid_input', `action must be one of ${BULK_ACTIONS.join(', ')}`);
  const distinct = [...new Set(keyIds)];
  if (distinct.length === 0) throw new DomainError('invalid_input', 'select at least one keypair');
  if (distinct.length > BULK_MAX) throw new DomainError('invalid_input', `select at most ${BULK_MAX} keypairs at a time`);
  return distinct;
}

/** Why one keypair is skipped, for the errors that concern it alone; null for any other error (rethrown). */
function skipReason(err: unknown): string | null {
  if (err instanceof StoreConflictError) return 'busy with another change: try again';
  if (!(err instanceof DomainError)) return null;
  if (err.code === 'not_found') return 'not found (removed, or not yours to see)';
  if (err.code === 'forbidden') return 'you may not manage it';
  if (err.code === 'conflict') return `not possible now: ${err.message}`;
  return null;
}
