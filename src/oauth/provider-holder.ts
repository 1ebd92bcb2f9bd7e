// The oidc-provider instance that serves requests now. oidc-provider takes its
// signing keys once, when it is built; when the keys change, a new one is built
// and swapped in here. Requests already inside the old one finish there (its
// keys stay published long enough), new requests go to the new one.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type Provider from 'oidc-provider';

// A Koa callback: it answers its own errors, so its promise never rejects.
type Handler = (req: IncomingMessage, res: ServerResponse) => Promise<void>;

export class ProviderHolder {
  #provider: Provider;
  #handler: Handler;
  readonly #setups: ((provider: Provider) => void)[] = [];

  constructor(provider: Provider) {
    this.#provider = provider;
    this.#handler = provider.callback();
  }

  get current(): Provider {
    return this.#provider;
  }

  /** The current provider's request handler. */
  get handler(): Handler {
    return this.#handler;
  }

  /** Runs `setup` (settings, event listeners) on the current provider and on every one that replaces it. */
  each(setup: (provider: Provider) => void): void {
    this.#setups.push(setup);
    setup(this.#provider);
  }

  replace(provider: Provider): void {
    for (const setup of this.#setups) setup(provider);
    this.#provider = provider;
    this.#handler = provider.callback();
  }
}
