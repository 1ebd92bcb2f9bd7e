// The federation settings (src/config.ts): off by default, the allow-list from
// KEYPORT_FEDERATION_ISSUERS (comma-separated), issuers as URLs kept exactly.
import test from 'ava';
import { loadConfig } from '../../src/config.ts';

const env = (extra: Record<string, string> = {}) => ({ ...extra });

test('federation is off by default: no issuer, no loopback, no private networks, 5 s fetch timeout', (t) => {
  t.deepEqual(loadConfig(env()).federation, { issuers: [], allowLoopback: false, allowPrivateNetworks: false, fetchTimeoutMs: 5000 });
});

test('KEYPORT_FEDERATION_ISSUERS lists the trusted issuers, kept exactly as written (iss is compared exactly)', (t) => {
  const config = loadConfig(env({ KEYPORT_FEDERATION_ISSUERS: 'https://token.actions.githubusercontent.com, https://gitlab.example.com/', KEYPORT_FEDERATION_ALLOW_PRIVATE_NETWORKS: 'true' }));
  t.deepEqual(config.federation.issuers, ['https://token.actions.githubusercontent.com', 'https://gitlab.example.com/']);
  t.true(config.federation.allowPrivateNetworks);
});

test('an issuer that is not an http(s) URL, or has a query or credentials, stops the start with the setting named', (t) => {
  for (const bad of ['not a url', 'ftp://example.com', 'https://example.com/?x=1', 'https://user:pw@example.com']) {
    const err = t.throws(() => loadConfig(env({ KEYPORT_FEDERATION_ISSUERS: bad })));
    t.regex(err.message, /federation\.issuers\.0/, bad);
  }
});
