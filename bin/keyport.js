#!/usr/bin/env node
// The `keyport` npm bin. Keyport is TypeScript run by Node's built-in type
// stripping (Node >= 22.18); the project pins Node 24 as the npm `node`
// package, which npm and npx put first on PATH. A bare `keyport` resolved to an
// older system Node would fail with an obscure syntax error, so say what to do.
const [major, minor] = process.versions.node.split('.').map(Number);
if (major < 22 || (major === 22 && minor < 18)) {
  process.stderr.write(
    `keyport needs Node.js 22.18 or newer; this is Node ${process.versions.node} (${process.execPath}).\n` +
    'Run it through npm so that the project\'s Node 24 (node_modules/.bin/node) is used:\n' +
    '  npx keyport --help        or        npm run keyport -- --help\n',
  );
  process.exit(1);
}
import('../src/cli/main.ts');
