// The trust rules of keypairs (federated workload identity) from a terminal:
// add one (issuer, subject, audience, claim conditions), list, remove. The
// issuers a rule may name are the instance's federation.issuers, read from the
// same configuration as the server's (KEYPORT_FEDERATION_ISSUERS).
import type { Command } from 'commander';
import type { KeypairView } from '../domain/keypairs.ts';
import type { TrustRuleInput, TrustRuleView } from '../domain/trust-rules.ts';
import { UsageError } from './errors.ts';
import { fields, table, when } from './output.ts';
import type { Runner } from './session.ts';

const claimsText = (rule: TrustRuleView) => rule.claims.map((c) => `${c.name}=${c.value}`).join(', ');

/** The lines `keypair show` adds for a keypair's trust rules. */
export function trustFields(k: KeypairView): [string, string][] {
  return k.trustRules.map((rule) => ['trust rule', `${rule.id}: ${rule.issuer} sub ${rule.subject} aud ${rule.audience}${rule.claims.length ? ` where ${claimsText(rule)}` : ''} (last used ${when(rule.lastUsedAt)})`]);
}

/** `--claim name=value`, repeatable. */
function collectClaim(value: string, previous: { name: string; value: string }[] = []): { name: string; value: string }[] {
  const equals = value.indexOf('=');
  if (equals < 1) throw new UsageError(`--claim must be name=value, got "${value}"`);
  return [...previous, { name: value.slice(0, equals), value: value.slice(equals + 1) }];
}

/** `keypair create --trust-rule <json>`, repeatable: the domain checks what the rule says. */
export function collectTrustRule(value: string, previous: TrustRuleInput[] = []): TrustRuleInput[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch {
    throw new UsageError('--trust-rule must be JSON: {"issuer": "…", "subject": "…", "audience": "…", "claims": [{"name": "…", "value": "…"}]}');
  }
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) throw new UsageError('--trust-rule must be a JSON object with issuer, subject and audience');
  return [...previous, parsed as TrustRuleInput];
}

export function registerKeypairTrustCommands(keypair: Command, run: Runner): void {
  const trust = keypair.command('trust')
    .description('trust rules (federated workload identity): OIDC tokens of an external issuer (GitHub Actions, Kubernetes…) that authenticate the keypair without any secret');

  trust.command('add <keyId>')
    .description('trust tokens of an issuer listed in federation.issuers whose sub, aud and claims match')
    .requiredOption('--issuer <url>', 'the issuer, exactly as its tokens write iss (e.g. https://token.actions.githubusercontent.com)')
    .requiredOption('--subject <sub>', 'the token\'s sub: exact, or a prefix ending in one * (e.g. "repo:acme/api:*")')
    .requiredOption('--audience <aud>', 'a value the token\'s aud must hold (the audience the workload asks its platform for)')
    .option('--claim <name=value>', 'a further claim that must equal value (repeatable; "/" reaches into nested claims: kubernetes.io/namespace=prod)', collectClaim)
    .addHelpText('after', '\nExample (GitHub Actions, main branch of acme/api):\n  keyport keypair trust add kp_… --issuer https://token.actions.githubusercontent.com \\\n    --subject repo:acme/api:ref:refs/heads/main --audience https://keyport.example.com --claim repository=acme/api\n')
    .action((keyId: string, options: { issuer: string; subject: string; audience: string; claim?: { name: string; value: string }[] }, command: Command) => run(command, async (s) => {
      const { rule } = await s.domain.keypairTrust.add(keyId, { issuer: options.issuer, subject: options.subject, audience: options.audience, claims: options.claim ?? [] }, 'cli');
      s.print(rule, () => `Added trust rule ${rule.id} to ${keyId}.\n\n${fields([['issuer', rule.issuer], ['subject', `${rule.subject} (${rule.subjectMatch})`], ['audience', rule.audience], ['claims', claimsText(rule) || '-']])}\n`);
    }));

  trust.command('list <keyId>')
    .description('list a keypair\'s trust rules')
    .action((keyId: string, _options: unknown, command: Command) => run(command, async (s) => {
      const view = await s.domain.keypairs.get(keyId);
      s.print(view.trustRules, () => view.trustRules.length
        ? table(['ID', 'ISSUER', 'SUBJECT', 'AUDIENCE', 'CLAIMS', 'ADDED', 'LAST USED'],
          view.trustRules.map((r) => [r.id, r.issuer, r.subject, r.audience, claimsText(r) || '-', when(r.createdAt), when(r.lastUsedAt)]))
        : `No trust rules.${s.domain.keypairTrust.issuers.length ? '' : ' No issuer is trusted on this instance (federation.issuers).'}\n`);
    }));

  trust.command('remove <keyId> <ruleId>')
    .description('remove a trust rule: its tokens stop authenticating the keypair at once')
    .action((keyId: string, ruleId: string, _options: unknown, command: Command) => run(command, async (s) => {
      const view = s.domain.keypairs.view(await s.domain.keypairTrust.remove(keyId, ruleId, 'cli'));
      s.print(view, () => `Removed trust rule ${ruleId} of ${keyId}.\n`);
    }));
}
