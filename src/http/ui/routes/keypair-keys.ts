// A keypair's public keys (private_key_jwt) in the web UI: add one (pasted, or
// read from a file by the browser), retire one now or after a grace period.
// Both answer with a redirect to the keypair's page (POST-redirect-GET).
import type Router from '@koa/router';
import { DomainError } from '../../../domain/errors.ts';
import { GRACE_PERIODS, type GracePeriod } from '../../../domain/limits.ts';
import { PUBLIC_KEY_INPUT_MAX } from '../../../domain/public-keys.ts';
import { authorizeKeypair } from '../owner-page.ts';
import { capitalize, field, flash, form, me, seeOther, signedIn, UI_PREFIX, UiError, type UiDeps } from '../page-helpers.ts';

export function keypairKeyRoutes(router: Router, deps: UiDeps): void {
  const { domain } = deps;

  router.post('/keypairs/:keyId/keys', signedIn, async (ctx) => {
    const { keypair } = await authorizeKeypair(ctx, domain, 'keypairs.manage');
    const back = { href: `${UI_PREFIX}/keypairs/${keypair.keyId}`, label: `Back to ${keypair.name}` };
    const key = field(form(ctx), 'key', PUBLIC_KEY_INPUT_MAX).trim();
    if (!key) throw new UiError(400, 'Not valid', `Paste a public key (JWK or PEM, at most ${PUBLIC_KEY_INPUT_MAX} characters).`, back);
    let added;
    try {
      ({ key: added } = await domain.keypairKeys.add(keypair.keyId, key, me(ctx).access.actor));
    } catch (err) {
      if (err instanceof DomainError && err.code === 'invalid_input') throw new UiError(400, 'Key refused', capitalize(err.message) + '.', back);
      throw err;
    }
    flash(ctx, `Added the public key ${added.thumbprint} to ${keypair.name}.`);
    seeOther(ctx, back.href);
  });

  router.post('/keypairs/:keyId/keys/:thumbprint/retire', signedIn, async (ctx) => {
    const { keypair } = await authorizeKeypair(ctx, domain, 'keypairs.manage');
    const back = { href: `${UI_PREFIX}/keypairs/${keypair.keyId}`, label: `Back to ${keypair.name}` };
    const grace = field(form(ctx), 'grace', 10);
    if (!Object.hasOwn(GRACE_PERIODS, grace)) throw new UiError(400, 'Not valid', 'Choose when the key stops working.', back);
    const thumbprint = String(ctx.params.thumbprint);
    if (!/^[A-Za-z0-9_-]{43}$/.test(thumbprint)) throw new UiError(404, 'Not found', 'This keypair has no such key.', back);
    await domain.keypairKeys.retire(keypair.keyId, thumbprint, grace as GracePeriod, me(ctx).access.actor);
    flash(ctx, grace === '0' ? `The key ${thumbprint} has stopped working.` : `The key ${thumbprint} keeps working for ${grace}, then stops.`);
    seeOther(ctx, back.href);
  });
}
