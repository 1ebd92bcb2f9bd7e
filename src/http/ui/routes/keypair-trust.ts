// A keypair's trust rules (federated workload identity) in the web UI: add one
// (an issuer from the instance's allow-list, subject, audience, claim
// conditions one "name=value" per line), remove one. Both answer with a
// redirect to the keypair's page (POST-redirect-GET).
import type Router from '@koa/router';
import { DomainError } from '../../../domain/errors.ts';
import { TRUST_RULE_CLAIMS_MAX, TRUST_RULE_ID_PATTERN, TRUST_RULE_VALUE_MAX } from '../../../domain/trust-rules.ts';
import { authorizeKeypair } from '../owner-page.ts';
import { capitalize, field, flash, form, me, seeOther, signedIn, UI_PREFIX, UiError, type UiDeps } from '../page-helpers.ts';

export function keypairTrustRoutes(router: Router, deps: UiDeps): void {
  const { domain } = deps;

  router.post('/keypairs/:keyId/trust-rules', signedIn, async (ctx) => {
    const { keypair } = await authorizeKeypair(ctx, domain, 'keypairs.manage');
    const back = { href: `${UI_PREFIX}/keypairs/${keypair.keyId}`, label: `Back to ${keypair.name}` };
    const f = form(ctx);
    const lines = field(f, 'claims', (TRUST_RULE_VALUE_MAX + 80) * TRUST_RULE_CLAIMS_MAX).split(/\r?\n/).map((line) => line.trim()).filter(Boolean);
    const claims = lines.map((line) => {
      const equals = line.indexOf('=');
      if (equals < 1) throw new UiError(400, 'Not valid', `Write each claim condition as name=value on its own line ("${line.slice(0, 80)}" is not).`, back);
      return { name: line.slice(0, equals).trim(), value: line.slice(equals + 1).trim() };
    });
    const input = { issuer: field(f, 'issuer', TRUST_RULE_VALUE_MAX), subject: field(f, 'subject', TRUST_RULE_VALUE_MAX).trim(), audience: field(f, 'audience', TRUST_RULE_VALUE_MAX).trim(), claims };
    let rule;
    try {
      ({ rule } = await domain.keypairTrust.add(keypair.keyId, input, me(ctx).access.actor));
    } catch (err) {
      if (err instanceof DomainError && (err.code === 'invalid_input' || err.code === 'conflict')) throw new UiError(err.code === 'conflict' ? 409 : 400, 'Rule refused', capitalize(err.message) + '.', back);
      throw err;
    }
    flash(ctx, `${keypair.name} now trusts tokens of ${rule.issuer} for ${rule.subject} (rule ${rule.id}).`);
    seeOther(ctx, back.href);
  });

  router.post('/keypairs/:keyId/trust-rules/:ruleId/remove', signedIn, async (ctx) => {
    const { keypair } = await authorizeKeypair(ctx, domain, 'keypairs.manage');
    const back = { href: `${UI_PREFIX}/keypairs/${keypair.keyId}`, label: `Back to ${keypair.name}` };
    const ruleId = String(ctx.params.ruleId);
    if (!TRUST_RULE_ID_PATTERN.test(ruleId)) throw new UiError(404, 'Not found', 'This keypair has no such trust rule.', back);
    await domain.keypairTrust.remove(keypair.keyId, ruleId, me(ctx).access.actor);
    flash(ctx, `The trust rule ${ruleId} is removed: its tokens no longer authenticate ${keypair.name}.`);
    seeOther(ctx, back.href);
  });
}
