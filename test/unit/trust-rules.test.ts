// The pure trust-rule logic (src/domain/trust-rules.ts): what a rule may say,
// and how the verified claims of an external OIDC token match one.
import test from 'ava';
import type { StoredTrustRule } from '../../src/db/contract.ts';
import { DomainError } from '../../src/domain/errors.ts';
import { checkTrustRule, matchTrustRule, subjectMatches, type TrustRuleInput } from '../../src/domain/trust-rules.ts';

const GITHUB = 'https://token.actions.githubusercontent.com';
const K8S = 'https://kubernetes.default.svc';
const allowed = [GITHUB, K8S];

const rule = (input: Partial<StoredTrustRule>, id = 'tr_0000000000000001'): StoredTrustRule => ({
  id, issuer: GITHUB, subject: 'repo:acme/api:ref:refs/heads/main', audience: 'keyport', claims: [], createdAt: new Date(0), ...input,
});

const refusal = (input: Partial<TrustRuleInput>, issuers = allowed) => {
  try {
    checkTrustRule({ issuer: GITHUB, subject: 'repo:acme/api:*', audience: 'keyport', ...input }, issuers);
  } catch (err) {
    if (err instanceof DomainError && err.code === 'invalid_input') return err.message;
    throw err;
  }
  return null;
};

test('subjects: exact by default; a trailing * matches by prefix, and only then', (t) => {
  t.true(subjectMatches('repo:acme/api:ref:refs/heads/main', 'repo:acme/api:ref:refs/heads/main'));
  t.false(subjectMatches('repo:acme/api:ref:refs/heads/main', 'repo:acme/api:ref:refs/heads/main2'));
  t.true(subjectMatches('repo:acme/api:*', 'repo:acme/api:environment:prod'));
  t.false(subjectMatches('repo:acme/api:*', 'repo:acme/api-evil:ref:refs/heads/main'));
  // No regular expression: the dot and the brackets are literal.
  t.false(subjectMatches('repo:acme/a.i:*', 'repo:acme/api:x'));
  t.false(subjectMatches('repo:[a-z]*', 'repo:abc'));
});

test('a rule is checked: the issuer on the allow-list, one trailing *, never a bare *, claim names, reserved claims', (t) => {
  t.is(refusal({}), null);
  t.regex(refusal({ issuer: 'https://evil.example' })!, /not on this instance's list of trusted issuers/);
  t.regex(refusal({}, [])!, /no external issuer is trusted/);
  t.regex(refusal({ issuer: `${GITHUB}/` })!, /not on this instance's list/, 'compared exactly, as iss is');
  t.regex(refusal({ subject: '*' })!, /every workload/);
  t.regex(refusal({ subject: 'repo:*:ref:x' })!, /only once, as its last character/);
  t.regex(refusal({ subject: 'repo:acme/**' })!, /only once/);
  t.regex(refusal({ subject: 'repo:acme\n' })!, /printable/);
  t.regex(refusal({ audience: '' })!, /audience is required/);
  t.regex(refusal({ claims: [{ name: 'aud', value: 'x' }] })!, /cannot be a condition/);
  t.regex(refusal({ claims: [{ name: 'a b', value: 'x' }] })!, /not valid/);
  t.regex(refusal({ claims: [{ name: 'x', value: '' }] })!, /required/);
  t.regex(refusal({ claims: Array.from({ length: 11 }, (_, i) => ({ name: `c${i}`, value: 'x' })) })!, /at most 10/);
  const checked = checkTrustRule({ issuer: K8S, subject: 'system:serviceaccount:prod:deployer', audience: 'keyport', claims: [{ name: 'z', value: '1' }, { name: 'kubernetes.io/namespace', value: 'prod' }] }, allowed);
  t.deepEqual(checked.claims.map((c) => c.name), ['kubernetes.io/namespace', 'z'], 'kept in one order, so that duplicates compare equal');
});

test('matching: issuer, subject, audience (string or list), then every claim condition, strings only', (t) => {
  const github = rule({ claims: [{ name: 'repository', value: 'acme/api' }] });
  const claims = { iss: GITHUB, sub: 'repo:acme/api:ref:refs/heads/main', aud: 'keyport', repository: 'acme/api' };
  t.deepEqual(matchTrustRule([github], claims), { rule: github });
  t.deepEqual(matchTrustRule([github], { ...claims, aud: ['x', 'keyport'] }), { rule: github });
  t.deepEqual(matchTrustRule([github], { ...claims, iss: K8S }), { mismatch: 'no_rule_for_issuer' });
  t.deepEqual(matchTrustRule([github], { ...claims, sub: 'repo:acme/api:ref:refs/heads/dev' }), { mismatch: 'subject_mismatch' });
  t.deepEqual(matchTrustRule([github], { ...claims, aud: 'other' }), { mismatch: 'audience_mismatch' });
  t.deepEqual(matchTrustRule([github], { ...claims, repository: 'acme/other' }), { mismatch: 'claim_mismatch' });
  t.deepEqual(matchTrustRule([github], { ...claims, repository: ['acme/api'] }), { mismatch: 'claim_mismatch' }, 'a list never equals a condition');
  t.deepEqual(matchTrustRule([github], { ...claims, repository: undefined }), { mismatch: 'claim_mismatch' });
  t.deepEqual(matchTrustRule(undefined, claims), { mismatch: 'no_rule_for_issuer' });
});

test('matching: nested claims by path; the first rule that matches wins', (t) => {
  const k8s = rule({ issuer: K8S, subject: 'system:serviceaccount:prod:*', claims: [{ name: 'kubernetes.io/namespace', value: 'prod' }] }, 'tr_0000000000000002');
  const other = rule({ issuer: K8S, subject: 'system:serviceaccount:prod:deployer' }, 'tr_0000000000000003');
  const claims = { iss: K8S, sub: 'system:serviceaccount:prod:deployer', aud: 'keyport', 'kubernetes.io': { namespace: 'prod' } };
  t.deepEqual(matchTrustRule([k8s, other], claims), { rule: k8s });
  t.deepEqual(matchTrustRule([k8s, other], { ...claims, 'kubernetes.io': { namespace: 'staging' } }), { rule: other });
  t.deepEqual(matchTrustRule([k8s], { ...claims, 'kubernetes.io': 'prod' }), { mismatch: 'claim_mismatch' });
  t.deepEqual(matchTrustRule([k8s], { ...claims, 'kubernetes.io': undefined, 'kubernetes.io/namespace': 'prod' }), { mismatch: 'claim_mismatch' }, 'a path is not a flat name');
});
