// The limits and formats of what administrators enter, written once: the domain
// enforces them, and the API schemas, the config schema, the web UI (form
// attributes) and the CLI (choices, help) take them from here.

/** Grace periods offered for a rotation; '0' is a regeneration (the old secret stops at once). */
export const GRACE_PERIODS = { '0': 0, '1h': 3_600_000, '3h': 10_800_000, '24h': 86_400_000, '48h': 172_800_000, '72h': 259_200_000 } as const;
export type GracePeriod = keyof typeof GRACE_PERIODS;
export const DEFAULT_GRACE: GracePeriod = '24h';
/** The grace periods as a list, in the order offered ('0' first). */
export const GRACE_PERIOD_NAMES = Object.keys(GRACE_PERIODS) as [GracePeriod, ...GracePeriod[]];
/** A grace period may be extended up to this long after its rotation (the longest grace offered). */
export const MAX_GRACE_AFTER_ROTATION_MS = GRACE_PERIODS['72h'];
/**
 * retireWhenIdle: the previous secret ends early once unused this long. Usage is
 * written about once a minute per process, so a quarter of an hour is the shortest
 * that cannot end a secret some worker is still using.
 */
export const RETIRE_WHEN_IDLE = { '15m': 900_000, '1h': 3_600_000, '6h': 21_600_000, '24h': 86_400_000 } as const;
export type RetireWhenIdle = keyof typeof RETIRE_WHEN_IDLE;
export const RETIRE_WHEN_IDLE_NAMES = Object.keys(RETIRE_WHEN_IDLE) as [RetireWhenIdle, ...RetireWhenIdle[]];

/** Names of accounts, environments and keypairs: 1 to NAME_MAX characters once trimmed. */
export const NAME_MAX = 100;
/** A keypair's free-text comment. */
export const COMMENT_MAX = 1000;

/** RFC 6749 §3.3 scope-token: printable ASCII except space, `"` and `\`. */
export const SCOPE_NAME_PATTERN = /^[\x21\x23-\x5b\x5d-\x7e]+$/;
export const SCOPE_NAME_MAX = 200;
/** How many scopes one keypair may hold. */
export const SCOPES_MAX = 100;

/** RFC 5321's limit on a mailbox, the longest email address accepted anywhere. */
export const EMAIL_MAX = 254;
/** Passwords of admin users: at least PASSWORD_MIN characters; PASSWORD_MAX bounds the scrypt work of a sign-in. */
export const PASSWORD_MIN = 12;
export const PASSWORD_MAX = 1024;

/** How long an admin sign-in lasts, on the API's session and the UI's alike (not extended by use). */
export const SESSION_MAX_AGE_MS = 8 * 60 * 60 * 1000;
