// The audit trail in words: each event as a sentence ("ada@acme.test rotated
// billing worker (kp_…); the previous secret ends …"), with emails instead of
// user ids and names instead of ids, for the pages and for the exports.
import type { AuditEventView } from '../../domain/audit.ts';
import type { Domain } from '../../domain/index.ts';
import { formatTime } from './render.ts';

/** A piece of a sentence: text, or a keypair (a link to its trail on the pages). */
export type Part = { text: string } | { keypair: string; name: string | null };

export interface DescribedEvent extends AuditEventView {
  who: string;
  environmentName: string | null;
  keypairName: string | null;
  parts: Part[];
  sentence: string;
}

/** The actions the trail records, for the filter (other actions still show, in their raw form). */
export const AUDIT_ACTIONS: { value: string; label: string }[] = [
  ['keypair.created', 'Keypair created'], ['keypair.updated', 'Keypair edited'], ['keypair.rotated', 'Secret rotated'],
  ['keypair.regenerated', 'Secret regenerated'], ['keypair.disabled', 'Keypair disabled'], ['keypair.enabled', 'Keypair enabled'],
  ['keypair.locked', 'Keypair locked'], ['keypair.unlocked', 'Keypair unlocked'], ['keypair.removed', 'Keypair removed'],
  ['keypair.replaced', 'Keypair replaced'], ['keypair.expiring', 'Keypair expiring within 14 days'], ['keypair.expired', 'Keypair expired'], ['account.updated', 'Account settings changed'],
  ['keypair.previous_secret_still_used', 'Previous secret still used'], ['keypair.ended_secret_used', 'Ended secret still in use'],
  ['keypair.previous_secret_ended', 'Previous secret ended'], ['keypair.grace_extended', 'Grace period extended'],
  ['token.revoked', 'Token revoked'], ['membership.granted', 'Member added or role changed'], ['membership.revoked', 'Member removed'],
  ['account.created', 'Account created'], ['account.renamed', 'Account renamed'], ['account.closing', 'Account closing'], ['account.closed', 'Account closed'],
  ['environment.created', 'Environment created'], ['environment.renamed', 'Environment renamed'], ['environment.closing', 'Environment closing'], ['environment.closed', 'Environment closed'],
].map(([value, label]) => ({ value: value!, label: label! }));

const str = (v: unknown) => (typeof v === 'string' ? v : null);
const list = (v: unknown) => (Array.isArray(v) && v.length ? v.map(String).join(', ') : 'none');

/** Events with who did it, where, and what, in words: one query per kind of name. */
export async function describeEvents(domain: Domain, events: AuditEventView[]): Promise<DescribedEvent[]> {
  const names = await domain.audit.names(events);
  return events.map((event) => {
    const d = event.details;
    const who = event.actor.startsWith('user:') ? names.users.get(event.actor.slice(5)) ?? event.actor
      : event.actor.startsWith('keypair:') ? `keypair ${names.keypairs.get(event.actor.slice(8)) ?? event.actor.slice(8)}`
        : event.actor === 'system' ? 'Keyport' : event.actor === 'cli' ? 'the keyport command' : event.actor;
    const keypairName = event.keypairId ? names.keypairs.get(event.keypairId) ?? null : null;
    const kp: Part[] = event.keypairId ? [{ keypair: event.keypairId, name: keypairName }] : [];
    const t = (text: string): Part => ({ text });
    const user = str(d.userId) ? names.users.get(str(d.userId)!) ?? str(d.userId)! : 'a user';
    const when = (iso: unknown) => (str(iso) ? formatTime(str(iso)) : '');
    let parts: Part[];
    switch (event.action) {
      case 'keypair.created':
        parts = [t(`${who} created `), ...kp, t(` with the scopes ${list(d.scopes)}`),
          ...(str(d.replaces) ? [t(', replacing '), { keypair: str(d.replaces)!, name: null }] : [])];
        break;
      case 'keypair.replaced': parts = [t(`${who} replaced `), ...kp, ...(str(d.replacedBy) ? [t(' with '), { keypair: str(d.replacedBy)!, name: null }] : []), t('; the old key id stopped working')]; break;
      case 'keypair.expiring': parts = [...kp, t(` expires ${when(d.expiresAt)}, within 14 days`)]; break;
      case 'keypair.expired': parts = [...kp, t(` expired ${when(d.expiresAt)}; it gets no more tokens`)]; break;
      case 'keypair.updated': parts = [t(`${who} edited `), ...kp, t(`: ${Object.keys(d).join(', ') || 'nothing'}${Array.isArray(d.scopes) ? ` (scopes now ${list(d.scopes)})` : ''}`)]; break;
      case 'keypair.enabled': parts = [t(`${who} enabled `), ...kp]; break;
      case 'keypair.disabled': parts = [t(`${who} disabled `), ...kp, t('; the tokens it had are revoked')]; break;
      case 'keypair.unlocked': parts = [t(`${who} unlocked `), ...kp]; break;
      case 'keypair.removed': parts = [t(`${who} removed `), ...kp]; break;
      case 'keypair.rotated':
        parts = [t(`${who} rotated `), ...kp, t(`; the previous secret ends ${when(d.previousSecretExpiresAt)}`),
          ...(d.endedEarlierPreviousSecret === true ? [t('; an older previous secret ended at once')] : [])];
        break;
      case 'keypair.regenerated':
        parts = [t(`${who} regenerated the secret of `), ...kp, t('; the previous secret stopped working at once'),
          t(d.revokedTokens === false ? '; the tokens already issued were kept' : '; the tokens already issued were revoked'),
          ...(d.unlocked === true ? [t('; it was unlocked')] : [])];
        break;
      case 'keypair.locked':
        parts = [...kp, t(` was locked after ${typeof d.failedAttempts === 'number' ? d.failedAttempts : 'repeated'} wrong secrets`),
          t(d.permanent === true ? ', until an administrator unlocks it' : ` until ${when(d.lockedUntil)}`)];
        break;
      case 'keypair.previous_secret_still_used':
        parts = [t(`The previous secret ${str(d.hint) ?? ''} of `), ...kp, t(` is still used during its grace period (last ${when(d.lastUsedAt)}); it ends ${when(d.expiresAt)}`)];
        break;
      case 'keypair.ended_secret_used':
        parts = [t(`An ended secret ${str(d.hint) ?? ''} of `), ...kp, t(` is still in use: presented ${typeof d.count === 'number' ? d.count : 'again'} time(s) since it ended, last ${when(d.lastSeenAt)}${str(d.lastAddress) ? ` from ${str(d.lastAddress)}` : ''}; refused, and not counted toward the lockout`)];
        break;
      case 'keypair.previous_secret_ended':
        parts = [t(`${who} ended the previous secret of `), ...kp, t(d.force === true ? ' early, although it was used within the last hour' : ' early')];
        break;
      case 'keypair.grace_extended': parts = [t(`${who} extended the grace period of `), ...kp, t(` to ${when(d.until)}`)]; break;
      case 'token.revoked': parts = [t(`${who} revoked a token of `), ...kp]; break;
      case 'membership.granted': parts = [t(`${who} made ${user} ${str(d.role) ?? 'a member'}`)]; break;
      case 'membership.revoked': parts = [t(`${who} removed ${user} (${str(d.role) ?? 'member'})`)]; break;
      case 'account.created': case 'environment.created': parts = [t(`${who} created the ${event.action.split('.')[0]} ${str(d.name) ?? ''}`)]; break;
      case 'account.renamed': case 'environment.renamed': parts = [t(`${who} renamed the ${event.action.split('.')[0]} ${str(d.from) ?? ''} to ${str(d.to) ?? ''}`)]; break;
      case 'account.closing': case 'environment.closing': parts = [t(`${who} started closing the ${event.action.split('.')[0]}`)]; break;
      case 'account.updated': {
        const limit = (d.maxKeypairLifetimeDays ?? {}) as { to?: unknown };
        parts = [t(typeof limit.to === 'number' ? `${who} limited new keypairs to ${limit.to} days` : `${who} removed the maximum keypair lifetime`)];
        break;
      }
      case 'account.closed': case 'environment.closed': parts = [t(`${who} closed the ${event.action.split('.')[0]}`)]; break;
      default: {
        const [subject, verb] = event.action.split('.');
        parts = [t(`${who}: ${subject} ${(verb ?? '').replace(/_/g, ' ')}`), ...(kp.length ? [t(' of '), ...kp] : [])];
        if (str(d.name)) parts.push(t(` (${str(d.name)})`));
      }
    }
    const sentence = parts.map((p) => ('text' in p ? p.text : p.name ? `${p.name} (${p.keypair})` : p.keypair)).join('');
    return {
      ...event,
      who,
      environmentName: event.environmentId ? names.environments.get(event.environmentId) ?? event.environmentId : null,
      keypairName,
      parts,
      sentence,
    };
  });
}
