// The trust rules of a keypair (federated workload identity): adding one,
// removing one, audited. What a rule may say and how a token matches one:
// trust-rules.ts; the token check: KeypairAuthenticator.authenticateWithTrustRule
// after src/oauth/federated-auth.ts verified the token. No HTTP in here.
import type { KeypairRecord, KeypairStore, StoredTrustRule } from '../db/contract.ts';
import type { Actor, AuditLog } from './audit.ts';
import type { Clock } from './clock.ts';
import { isWellFormedKeyId } from './credentials.ts';
import { DomainError, invalidInput, notFound } from './errors.ts';
import { keypairTarget } from './keypair-views.ts';
import { livePublicKeys } from './public-keys.ts';
import { checkTrustRule, newTrustRuleId, sameTrust, TRUST_RULE_ID_PATTERN, TRUST_RULES_MAX, trustRuleViews, type TrustRuleInput, type TrustRuleView } from './trust-rules.ts';

/** The rules a new keypair starts with (KeypairService.create): each checked, no duplicates, at most 10. */
export function initialTrustRules(inputs: readonly TrustRuleInput[], issuers: readonly string[], now: Date): StoredTrustRule[] {
  if (inputs.length > TRUST_RULES_MAX) throw invalidInput(`a keypair holds at most ${TRUST_RULES_MAX} trust rules`);
  const rules: StoredTrustRule[] = [];
  for (const [i, input] of inputs.entries()) {
    let checked;
    try {
      checked = checkTrustRule(input, issuers);
    } catch (err) {
      if (err instanceof DomainError && inputs.length > 1) throw invalidInput(`trust rule ${i + 1}: ${err.message}`);
      throw err;
    }
    if (rules.some((rule) => sameTrust(rule, checked))) throw invalidInput(`trust rule ${i + 1} is given twice`);
    rules.push({ id: newTrustRuleId(), ...checked, createdAt: now });
  }
  return rules;
}

export class KeypairTrustService {
  readonly #store: KeypairStore;
  readonly #audit: AuditLog;
  readonly #clock: Clock;
  /** The instance's allow-list of external issuers (federation.issuers). */
  readonly #issuers: readonly string[];

  constructor(deps: { store: KeypairStore; audit: AuditLog; clock: Clock; issuers: readonly string[] }) {
    this.#store = deps.store;
    this.#audit = deps.audit;
    this.#clock = deps.clock;
    this.#issuers = deps.issuers;
  }

  /** The issuers a rule may name, for the surfaces (the UI's choice, the CLI's hint). */
  get issuers(): readonly string[] {
    return this.#issuers;
  }

  /** Adds a rule; refuses (invalid_input) an issuer not on the allow-list, (conflict) a duplicate or an eleventh rule. */
  async add(keyId: string, input: TrustRuleInput, actor: Actor): Promise<{ doc: KeypairRecord; rule: TrustRuleView }> {
    const checked = checkTrustRule(input, this.#issuers);
    const id = newTrustRuleId();
    const doc = await this.#rewrite(keyId, (current, now) => {
      const rules = current.trustRules ?? [];
      if (rules.some((rule) => sameTrust(rule, checked))) throw new DomainError('conflict', 'this keypair has that trust rule already');
      if (rules.length >= TRUST_RULES_MAX) throw new DomainError('conflict', `a keypair holds at most ${TRUST_RULES_MAX} trust rules: remove one first`);
      return [...rules, { id, ...checked, createdAt: now }];
    });
    const rule = trustRuleViews(doc).find((r) => r.id === id)!;
    await this.#audit.record({ actor, action: 'keypair.trust_added', ...keypairTarget(doc), details: { ruleId: id, issuer: rule.issuer, subject: rule.subject, audience: rule.audience, claims: rule.claims } });
    return { doc, rule };
  }

  /** Removes a rule at once: tokens matching only it stop authenticating the keypair. */
  async remove(keyId: string, ruleId: string, actor: Actor): Promise<KeypairRecord> {
    if (!TRUST_RULE_ID_PATTERN.test(ruleId)) throw notFound('trust rule');
    let removed: StoredTrustRule | undefined;
    const doc = await this.#rewrite(keyId, (current) => {
      const rules = current.trustRules ?? [];
      removed = rules.find((rule) => rule.id === ruleId);
      if (!removed) throw notFound('trust rule');
      // As for keys: a keypair without a secret and without a key keeps a way to authenticate.
      if (rules.length === 1 && !current.secrets.some((s) => s.expiresAt === null) && !livePublicKeys(current.publicKeys, this.#clock.now()).some((k) => k.expiresAt === null)) {
        throw new DomainError('conflict', 'this is the last trust rule of a keypair without a secret or key: add another rule or a key first');
      }
      return rules.filter((rule) => rule !== removed);
    });
    const gone = removed!;
    await this.#audit.record({ actor, action: 'keypair.trust_removed', ...keypairTarget(doc), details: { ruleId, issuer: gone.issuer, subject: gone.subject } });
    return doc;
  }

  async #rewrite(keyId: string, build: (current: KeypairRecord, now: Date) => StoredTrustRule[]): Promise<KeypairRecord> {
    if (!isWellFormedKeyId(keyId)) throw notFound('keypair');
    const result = await this.#store.rewrite(keyId, (current) => {
      const now = this.#clock.now();
      return { set: { trustRules: build(current, now), updatedAt: now } };
    }, 5);
    if (result.outcome === 'not_found') throw notFound('keypair');
    if (result.outcome === 'conflict') throw new DomainError('conflict', 'the keypair changed meanwhile; try again');
    return result.after;
  }
}
