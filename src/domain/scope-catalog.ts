// The configured scopes, and where each may be granted (account or environment keypairs).
import type { KeyportConfig, ScopeLevel } from '../config.ts';
import { invalidInput } from './errors.ts';

export class ScopeCatalog {
  readonly #scopes: KeyportConfig['scopes'];

  constructor(scopes: KeyportConfig['scopes']) {
    this.#scopes = scopes;
  }

  get all(): KeyportConfig['scopes'] {
    return this.#scopes;
  }

  get names(): string[] {
    return this.#scopes.map((s) => s.name);
  }

  forLevel(level: ScopeLevel): KeyportConfig['scopes'] {
    return this.#scopes.filter((s) => s.levels.includes(level));
  }

  /** Throws invalid_input naming the scopes that are unknown or not grantable at this level. */
  assertGrantable(scopes: string[], level: ScopeLevel): string[] {
    const allowed = new Set(this.forLevel(level).map((s) => s.name));
    const refused = scopes.filter((s) => !allowed.has(s));
    if (refused.length) {
      throw invalidInput(`scopes not grantable to ${level} keypairs: ${refused.join(', ')}`, { scopes: refused });
    }
    return [...new Set(scopes)];
  }
}
