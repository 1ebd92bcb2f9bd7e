// Trust rules of keypairs (federated workload identity): what a rule may say,
// and whether the verified claims of an external OIDC token match one. Pure:
// no HTTP, no database, no clock. The token's signature, issuer keys and
// lifetime are checked before (src/oauth/federated-auth.ts).
import type { StoredTrustRule } from '../db/contract.ts';
import { randomBase62 } from './credentials.ts';
import { invalidInput } from './errors.ts';

/** How many trust rules one keypair holds. */
export const TRUST_RULES_MAX = 10;
/** How many claim conditions one rule holds. */
export const TRUST_RULE_CLAIMS_MAX = 10;
/** The longest subject, audience or claim value a rule may name. */
export const TRUST_RULE_VALUE_MAX = 512;
export const TRUST_RULE_ID_PATTERN = /^tr_[0-9A-Za-z]{16}$/;
/** A claim name, or a path into nested claims with '/' (`kubernetes.io/namespace`). */
const CLAIM_PATH_PATTERN = /^[A-Za-z0-9_.:-]{1,64}(\/[A-Za-z0-9_.:-]{1,64}){0,3}$/;
/** Claims the rule's own fields (and the token's lifetime checks) cover: not conditions. */
const RESERVED_CLAIMS = new Set(['iss', 'sub', 'aud', 'exp', 'nbf', 'iat', 'jti']);
/** Printable characters only: no control characters, nothing that would hide in a log or a page. */
const PRINTABLE = /^[^\p{Cc}\p{Cf}]+$/u;

export interface TrustRuleInput {
  issuer: string;
  subject: string;
  audience: string;
  /** Claim name (or path, with '/') and the exact string it must equal. A list: claim names may hold '.'. */
  claims?: { name: string; value: string }[];
}

export interface TrustRuleView {
  id: string;
  issuer: string;
  subject: string;
  /** exact: `sub` equals subject; prefix: subject ends with `*` and `sub` starts with what precedes it. */
  subjectMatch: 'exact' | 'prefix';
  audience: string;
  claims: { name: string; value: string }[];
  createdAt: string;
  lastUsedAt: string | null;
}

function text(value: unknown, name: string): string {
  if (typeof value !== 'string' || value === '') throw invalidInput(`${name} is required`);
  if (value.length > TRUST_RULE_VALUE_MAX) throw invalidInput(`${name} must be at most ${TRUST_RULE_VALUE_MAX} characters`);
  if (!PRINTABLE.test(value)) throw invalidInput(`${name} must hold printable characters only`);
  return value;
}

/**
 * Checks a rule as an admin gives it. The issuer must be on the instance's
 * allow-list (exactly as its tokens write `iss`). The subject is exact, or a
 * prefix followed by one trailing `*` (no other wildcard, no regular
 * expression); a bare `*` would trust every workload of the issuer and is refused.
 */
export function checkTrustRule(input: TrustRuleInput, allowedIssuers: readonly string[]): Omit<StoredTrustRule, 'id' | 'createdAt'> {
  const issuer = text(input.issuer, 'issuer');
  if (!allowedIssuers.includes(issuer)) {
    throw invalidInput(allowedIssuers.length
      ? `issuer ${issuer} is not on this instance's list of trusted issuers (federation.issuers): ${allowedIssuers.join(', ')}`
      : 'no external issuer is trusted on this instance: an operator must list it in federation.issuers (KEYPORT_FEDERATION_ISSUERS)');
  }
  const subject = text(input.subject, 'subject');
  const star = subject.indexOf('*');
  if (star !== -1 && star !== subject.length - 1) throw invalidInput('subject may hold "*" only once, as its last character (a prefix match)');
  if (subject === '*') throw invalidInput('subject "*" would trust every workload of the issuer: give the exact subject, or a prefix such as "repo:acme/api:*"');
  const audience = text(input.audience, 'audience');
  const given = input.claims ?? [];
  if (!Array.isArray(given)) throw invalidInput('claims must be a list of {"name", "value"}');
  if (given.length > TRUST_RULE_CLAIMS_MAX) throw invalidInput(`a rule holds at most ${TRUST_RULE_CLAIMS_MAX} claim conditions`);
  const claims = given.map((condition: unknown) => {
    if (!condition || typeof condition !== 'object') throw invalidInput('each claim condition is {"name", "value"}');
    const { name, value } = condition as { name?: unknown; value?: unknown };
    if (typeof name !== 'string' || !CLAIM_PATH_PATTERN.test(name)) throw invalidInput(`claim name "${String(name).slice(0, 80)}" is not valid: letters, digits and _ . : -, with "/" into nested claims (e.g. kubernetes.io/namespace)`);
    if (RESERVED_CLAIMS.has(name)) throw invalidInput(`claim "${name}" cannot be a condition: use the rule's issuer, subject and audience`);
    return { name, value: text(value, `the value of claim ${name}`) };
  }).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  if (claims.some((c, i) => i > 0 && claims[i - 1]!.name === c.name)) throw invalidInput('each claim may have one condition');
  return { issuer, subject, audience, claims };
}

export function newTrustRuleId(): string {
  return `tr_${randomBase62(16)}`;
}

/** True when two rules trust exactly the same tokens. */
export function sameTrust(a: Omit<StoredTrustRule, 'id' | 'createdAt'>, b: Omit<StoredTrustRule, 'id' | 'createdAt'>): boolean {
  return a.issuer === b.issuer && a.subject === b.subject && a.audience === b.audience
    && a.claims.length === b.claims.length && a.claims.every((c, i) => c.name === b.claims[i]!.name && c.value === b.claims[i]!.value);
}

/** A rule's subject against a token's `sub`: equal, or (trailing `*`) starting with the prefix. */
export function subjectMatches(pattern: string, subject: string): boolean {
  return pattern.endsWith('*') ? subject.startsWith(pattern.slice(0, -1)) : subject === pattern;
}

/** The claim at `path` ('/' into nested objects), or undefined. */
function claimAt(claims: Record<string, unknown>, path: string): unknown {
  let node: unknown = claims;
  for (const part of path.split('/')) {
    if (typeof node !== 'object' || node === null || Array.isArray(node) || !Object.hasOwn(node, part)) return undefined;
    node = (node as Record<string, unknown>)[part];
  }
  return node;
}

function audienceHolds(aud: unknown, audience: string): boolean {
  return aud === audience || (Array.isArray(aud) && aud.includes(audience));
}

/** Why no rule matched, for logs and metrics (the client only ever sees invalid_client). */
export type TrustMismatch = 'no_rule_for_issuer' | 'subject_mismatch' | 'audience_mismatch' | 'claim_mismatch';

/**
 * The first rule that the verified claims of a token satisfy: same issuer,
 * matching subject, the rule's audience among `aud`, every claim condition
 * equal (strings only: a number or a list never equals a condition). When none
 * does, the reason of the rule that came closest.
 */
export function matchTrustRule(rules: readonly StoredTrustRule[] | undefined, claims: Record<string, unknown>): { rule: StoredTrustRule } | { mismatch: TrustMismatch } {
  const ofIssuer = (rules ?? []).filter((rule) => rule.issuer === claims.iss);
  if (!ofIssuer.length) return { mismatch: 'no_rule_for_issuer' };
  let closest: TrustMismatch = 'subject_mismatch';
  for (const rule of ofIssuer) {
    if (typeof claims.sub !== 'string' || !subjectMatches(rule.subject, claims.sub)) continue;
    if (!audienceHolds(claims.aud, rule.audience)) {
      if (closest === 'subject_mismatch') closest = 'audience_mismatch';
      continue;
    }
    if (!rule.claims.every((condition) => claimAt(claims, condition.name) === condition.value)) {
      closest = 'claim_mismatch';
      continue;
    }
    return { rule };
  }
  return { mismatch: closest };
}

/** True when the keypair has a rule for this issuer (before any key of the issuer is fetched). */
export function hasRuleFor(rules: readonly StoredTrustRule[] | undefined, issuer: string): boolean {
  return (rules ?? []).some((rule) => rule.issuer === issuer);
}

export function trustRuleViews(doc: { trustRules?: StoredTrustRule[]; trustRulesLastUsedAt?: Record<string, Date> }): TrustRuleView[] {
  return (doc.trustRules ?? []).map((rule) => ({
    id: rule.id,
    issuer: rule.issuer,
    subject: rule.subject,
    subjectMatch: rule.subject.endsWith('*') ? 'prefix' : 'exact',
    audience: rule.audience,
    claims: rule.claims.map((c) => ({ name: c.name, value: c.value })),
    createdAt: rule.createdAt.toISOString(),
    lastUsedAt: doc.trustRulesLastUsedAt?.[rule.id]?.toISOString() ?? null,
  }));
}
