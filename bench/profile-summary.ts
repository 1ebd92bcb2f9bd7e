// Summarises V8 CPU profiles (from `npm run bench -- --cpu-prof=DIR`): where the
// Keyport process spends its CPU, by package and by function (self time).
//   node bench/profile-summary.ts DIR/*.cpuprofile [--top=25]
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
}
interface Profile { nodes: ProfileNode[]; startTime: number; endTime: number; samples: number[] }

function area(url: string): string {
  if (!url) return '(native / V8)';
  if (url.startsWith('node:')) return 'node: (core)';
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (pkg) return pkg[1]!;
  const own = /\/(src|bench)\/(.+?)(?:\/[^/]+)?$/.exec(url);
  if (own) return `${own[1]}/${own[2]!.split('/')[0]}`;
  return url;
}

const { values, positionals } = parseArgs({ allowPositionals: true, options: { top: { type: 'string' } } });
const top = Number(values.top ?? 25);
if (!positionals.length) {
  console.error('usage: node bench/profile-summary.ts <file.cpuprofile>… [--top=25]');
  process.exit(2);
}

const byArea = new Map<string, number>();
const byFunction = new Map<string, number>();
let total = 0;
let idle = 0;
for (const file of positionals) {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile;
  const interval = (profile.endTime - profile.startTime) / 1000 / Math.max(1, profile.samples.length); // ms per sample
  for (const node of profile.nodes) {
    const ms = (node.hitCount ?? 0) * interval;
    if (!ms) continue;
    const { functionName, url, lineNumber } = node.callFrame;
    if (functionName === '(idle)') {
      idle += ms;
      continue;
    }
    total += ms;
    const where = area(url);
    byArea.set(where, (byArea.get(where) ?? 0) + ms);
    const name = `${functionName || '(anonymous)'}  ${url ? `${url.replace(/^.*node_modules\//, '').replace(/^file:\/\/.*?\/(src|bench)\//, '$1/')}:${lineNumber + 1}` : ''}`;
    byFunction.set(name, (byFunction.get(name) ?? 0) + ms);
  }
}

const pct = (ms: number) => `${((ms / total) * 100).toFixed(1).padStart(5)}% ${ms.toFixed(0).padStart(6)} ms`;
console.log(`busy ${(total / 1000).toFixed(1)} s, idle ${(idle / 1000).toFixed(1)} s (${((total / (total + idle)) * 100).toFixed(0)}% busy)\n`);
console.log('self time by package');
for (const [name, ms] of [...byArea].sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`  ${pct(ms)}  ${name}`);
console.log('\nself time by function');
for (const [name, ms] of [...byFunction].sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`  ${pct(ms)}  ${name}`);
