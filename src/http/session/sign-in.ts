// Admin sign-in with email and password, one flow for the REST API and the web
// UI: the throttle is asked first, then the password is checked, failures are
// counted and a success clears the count, and only then does the surface start
// its session (a new session key: no session fixation). Each surface renders
// the outcome in its own way (JSON or a page) and nothing else.
import type { UserView } from '../../domain/users.ts';

export type SignInResult =
  | { outcome: 'signed_in'; user: UserView }
  | { outcome: 'throttled'; retryAfterSeconds: number }
  | { outcome: 'refused' };

/** Counts sign-in failures per email and address and pauses them (src/db/sign-in-throttle.ts keeps the counts). */
export interface SignInThrottle {
  /** Seconds to wait before this email may be tried from this address again; 0: it may. */
  retryAfter(email: string, address: string): Promise<number>;
  failed(email: string, address: string): Promise<void>;
  succeeded(email: string, address: string): Promise<void>;
}

interface PasswordCheck {
  authenticate(email: string, password: string): Promise<UserView | null>;
}

export class SignInFlow {
  readonly #users: PasswordCheck;
  readonly #throttle: SignInThrottle;

  constructor(users: PasswordCheck, throttle: SignInThrottle) {
    this.#users = users;
    this.#throttle = throttle;
  }

  /**
   * `address`: the caller's address (ctx.ip). `startSession` is the surface's
   * own session start, called only for a user who signed in.
   */
  async signIn(email: string, password: string, address: string, startSession: (user: UserView) => Promise<void>): Promise<SignInResult> {
    const wait = await this.#throttle.retryAfter(email, address);
    if (wait > 0) return { outcome: 'throttled', retryAfterSeconds: wait };
    const user = await this.#users.authenticate(email, password);
    if (!user) {
      await this.#throttle.failed(email, address);
      return { outcome: 'refused' };
    }
    await this.#throttle.succeeded(email, address);
    await startSession(user);
    return { outcome: 'signed_in', user };
  }
}
