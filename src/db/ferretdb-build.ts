// Finds or builds the FerretDB v1 binary behind Keyport's embedded database.
//
// The build uses the Go module proxy: `go mod download` fetches the release's
// source (checksummed against the Go checksum database), then `go build`
// compiles ./cmd/ferretdb. A plain `go install …/cmd/ferretdb@v1.24.2` builds
// too, but the binary panics at start ("Invalid build/version/version.txt file
// content"): the module zip lacks the version.txt that FerretDB's release
// tooling generates. We write that one file (the version string) into a copy
// of the source before building, which is what FerretDB's own `task
// gen-version` does.
//
// Two more edits to that copy (SOURCE_PATCHES) fix how v1.24.2's SQLite backend
// finds a document by _id. Without them every read, update and delete of one
// keypair scans the whole table: 1.3 ms at 100 keypairs, 384 ms at 100 000.
// Each patch must match the release's source exactly once, or the build stops.
import { spawn, spawnSync } from 'node:child_process';
import { copyFileSync, chmodSync, cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const FERRETDB_MODULE = 'github.com/FerretDB/FerretDB';
export const FERRETDB_VERSION = 'v1.24.2';
/** Bumped whenever SOURCE_PATCHES change, so that no cached binary of older patches is reused. */
const KEYPORT_PATCH_LEVEL = 'keyport.1';
/** The build's name in paths: the FerretDB release plus our patch level. */
const BUILD_NAME = `ferretdb-${FERRETDB_VERSION}-${KEYPORT_PATCH_LEVEL}`;

interface SourcePatch {
  file: string;
  find: string;
  replace: string;
  /** Applied this many times (an exact count: a changed source stops the build). */
  occurrences: number;
}

export const SOURCE_PATCHES: readonly SourcePatch[] = [
  {
    // The unique _id index is created on `_ferretdb_sjson->"_id"`, but queries,
    // updates and deletes by _id compare `_ferretdb_sjson->'$._id'`: the same value,
    // yet a different expression, so SQLite never uses the index (EXPLAIN QUERY
    // PLAN: SCAN). Writing the path as the index does makes them index lookups.
    file: 'internal/backends/sqlite/metadata/metadata.go',
    find: `IDColumn = DefaultColumn + "->'$._id'"`,
    replace: `IDColumn = DefaultColumn + "->'_id'"`,
    occurrences: 1,
  },
  {
    // The SQLite backend narrows a query to one _id only when the filter has no
    // other condition, so `{_id, enabled: true}` (every conditional update) reads
    // the whole table. FerretDB's handler filters every prefetched document again
    // in Go (FilterIterator/FilterDocument), so narrowing by the top-level _id
    // equality is safe whatever else the filter says.
    file: 'internal/backends/sqlite/collection.go',
    find: 'if params.Filter.Len() == 1 {',
    replace: 'if params.Filter.Len() >= 1 {',
    occurrences: 2,
  },
];

const PROJECT_ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** Where `npm run setup` puts the binary inside the checkout. */
export function projectBinaryPath(): string {
  return join(PROJECT_ROOT, '.keyport', BUILD_NAME, 'ferretdb');
}

/** A per-machine cache, so that a fresh clone on the same machine does not rebuild. */
export function machineCachePath(env: NodeJS.ProcessEnv = process.env): string {
  const cacheRoot = env.XDG_CACHE_HOME || join(homedir(), '.cache');
  return join(cacheRoot, 'keyport', BUILD_NAME, 'ferretdb');
}

export class FerretdbMissingError extends Error {
  override name = 'FerretdbMissingError';
}

/** Returns the binary to run, or null when none has been built yet. */
export function findFerretdbBinary(configured: string | null): string | null {
  if (configured) {
    if (!existsSync(configured)) throw new FerretdbMissingError(`FERRETDB_BIN points to ${configured}, which does not exist`);
    return configured;
  }
  const local = projectBinaryPath();
  if (existsSync(local)) return local;
  const cached = machineCachePath();
  if (existsSync(cached)) {
    installCopy(cached, local);
    return local;
  }
  return null;
}

function installCopy(from: string, to: string): void {
  mkdirSync(dirname(to), { recursive: true });
  const partial = `${to}.${process.pid}.partial`;
  copyFileSync(from, partial);
  chmodSync(partial, 0o755);
  renameSync(partial, to);
}

function run(command: string, args: string[], options: { cwd?: string; capture?: boolean } = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      cwd: options.cwd,
      stdio: ['ignore', options.capture ? 'pipe' : 'inherit', 'inherit'],
      env: { ...process.env, GOFLAGS: '-mod=readonly' },
    });
    let out = '';
    child.stdout?.on('data', (chunk: Buffer) => { out += chunk.toString(); });
    child.on('error', (err: NodeJS.ErrnoException) => {
      reject(err.code === 'ENOENT' ? new FerretdbMissingError(missingGoMessage()) : err);
    });
    child.on('exit', (code) => {
      if (code === 0) resolve(out);
      else reject(new Error(`${command} ${args.join(' ')} exited with code ${code}`));
    });
  });
}

export function missingGoMessage(): string {
  return [
    `FerretDB ${FERRETDB_VERSION} (Keyport's embedded database) is not built, and Go is not installed to build it.`,
    'Do one of:',
    '  - install Go 1.22 or newer (https://go.dev/dl/), then run: npm run setup',
    '  - set FERRETDB_BIN to the path of a FerretDB v1 binary',
    '  - set MONGODB_URI to use a MongoDB server instead (see README.md, "Deploy")',
  ].join('\n');
}

/** What to do when no binary is there: build it (Go is installed) or one of the other ways. */
export function notBuiltMessage(): string {
  const goInstalled = spawnSync('go', ['version'], { stdio: 'ignore' }).status === 0;
  if (!goInstalled) return missingGoMessage();
  return [
    `FerretDB ${FERRETDB_VERSION} (Keyport's embedded database) is not built yet.`,
    'Run: npm run setup   (builds it once with Go, about a minute; `npm start` and `npm test` do this for you)',
    'Or set FERRETDB_BIN to a FerretDB v1 binary, or MONGODB_URI to use a MongoDB server.',
  ].join('\n');
}

/**
 * Builds FerretDB into the machine cache (if it is not there yet) and installs
 * it into the checkout. Prints progress, since a first build takes a minute or two.
 */
export async function buildFerretdb(say: (line: string) => void = (line) => console.error(line)): Promise<string> {
  const local = projectBinaryPath();
  const cached = machineCachePath();
  if (existsSync(local)) {
    say(`FerretDB ${FERRETDB_VERSION}: already built at ${local}`);
    return local;
  }
  if (!existsSync(cached)) {
    const started = Date.now();
    say(`FerretDB ${FERRETDB_VERSION}: [1/3] downloading the source from the Go module proxy…`);
    const info = JSON.parse(await run('go', ['mod', 'download', '-json', `${FERRETDB_MODULE}@${FERRETDB_VERSION}`], { capture: true })) as { Dir?: string; Error?: string };
    if (!info.Dir) throw new Error(`go mod download failed: ${info.Error ?? 'no directory returned'}`);
    const work = mkdtempSync(join(tmpdir(), 'keyport-ferretdb-'));
    try {
      const source = join(work, 'src');
      cpSync(info.Dir, source, { recursive: true });
      chmodRecursiveWritable(source);
      writeFileSync(join(source, 'build', 'version', 'version.txt'), `${FERRETDB_VERSION}\n`);
      applySourcePatches(source);
      say(`FerretDB ${FERRETDB_VERSION}: [2/3] compiling (about a minute on 2 cores; dependencies download on the first run)…`);
      mkdirSync(dirname(cached), { recursive: true });
      const partial = `${cached}.${process.pid}.partial`;
      await run('go', ['build', '-trimpath', '-o', partial, './cmd/ferretdb'], { cwd: source });
      renameSync(partial, cached);
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
    say(`FerretDB ${FERRETDB_VERSION}: built in ${Math.round((Date.now() - started) / 1000)} s, cached at ${cached}`);
  } else {
    say(`FerretDB ${FERRETDB_VERSION}: found in the machine cache ${cached}`);
  }
  say(`FerretDB ${FERRETDB_VERSION}: [3/3] installing into ${local}`);
  installCopy(cached, local);
  return local;
}

/** Applies SOURCE_PATCHES to a writable copy of the release's source. */
export function applySourcePatches(source: string): void {
  for (const patch of SOURCE_PATCHES) {
    const path = join(source, patch.file);
    const text = readFileSync(path, 'utf8');
    const found = text.split(patch.find).length - 1;
    if (found !== patch.occurrences) {
      throw new Error(`FerretDB source patch does not apply: ${patch.file} has ${found} × ${JSON.stringify(patch.find)}, expected ${patch.occurrences}`);
    }
    writeFileSync(path, text.replaceAll(patch.find, patch.replace));
  }
}

function chmodRecursiveWritable(dir: string): void {
  // The module cache is read-only; the copy must be writable to add version.txt and to be deleted.
  // node:fs has no recursive chmod, and `chmod -R` is on every platform the embedded mode supports.
  const result = spawnSync('chmod', ['-R', 'u+w', dir]);
  if (result.status !== 0) throw new Error(`chmod -R u+w ${dir} failed`);
}
