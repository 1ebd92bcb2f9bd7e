// Cluster mode (KEYPORT_WORKERS > 1): one worker process per core, sharing
// nothing but the database and the listening port. The primary owns the
// embedded database (if any) and creates the signing keys before forking, so
// that workers never race to create them; it restarts a worker that dies.
// It also restarts the embedded database when that exits (workers, attached to
// it, reconnect by themselves: it comes back on the same port), and tells the
// workers, whose /metrics count the restarts.
import cluster, { type Worker } from 'node:cluster';
import type { KeyportConfig } from './config.ts';
import { issuerOf } from './config.ts';
import { openKeyportDomain, runBootstrap, startKeyport } from './keyport.ts';
import { createLogger, flushLog } from './log.ts';

interface ReadyMessage { type: 'keyport:ready'; url: string; issuer: string; databaseKind: string; databaseUri: string }
interface DatabaseRestartedMessage { type: 'keyport:database-restarted' }

type Banner = (config: KeyportConfig, ready: ReadyMessage, workers: number) => string;

export async function runWorker(config: KeyportConfig): Promise<void> {
  const keyport = await startKeyport(config);
  process.send?.({ type: 'keyport:ready', url: keyport.url, issuer: keyport.issuer, databaseKind: keyport.database.kind, databaseUri: keyport.database.uri } satisfies ReadyMessage);
  process.on('SIGTERM', () => void keyport.close().then(() => process.exit(0)));
  process.on('SIGINT', () => { /* the primary decides when workers stop */ });
  process.on('message', (message: DatabaseRestartedMessage) => {
    if (message?.type === 'keyport:database-restarted') keyport.metrics.databaseRestarts.inc();
  });
}

export async function runPrimary(config: KeyportConfig, banner: Banner): Promise<void> {
  const log = createLogger(config.log.level);
  const count = config.server.workers;
  // Holds the embedded FerretDB open for the workers (they find it through the data directory).
  const { database, domain } = await openKeyportDomain(config, undefined, 'server', log);
  database.onEmbeddedRestart(() => {
    for (const worker of Object.values(cluster.workers ?? {})) {
      if (worker?.isConnected()) worker.send({ type: 'keyport:database-restarted' } satisfies DatabaseRestartedMessage);
    }
  });
  await domain.signingKeys.ensure();
  await runBootstrap(domain, log, { issuer: issuerOf(config, config.server.port), console: config.log.level !== 'silent' });

  let stopping = false;
  let announced = false;
  const ready = new Set<number>();
  const recentDeaths: number[] = [];

  const fork = (): Worker => {
    const worker = cluster.fork();
    worker.on('message', (message: ReadyMessage) => {
      if (message?.type !== 'keyport:ready') return;
      ready.add(worker.id);
      if (!announced && ready.size === count) {
        announced = true;
        console.log(banner(config, message, count));
      }
    });
    return worker;
  };

  cluster.on('exit', (worker, code, signal) => {
    ready.delete(worker.id);
    if (stopping) return;
    const now = Date.now();
    recentDeaths.push(now);
    while (recentDeaths.length && recentDeaths[0]! < now - 60_000) recentDeaths.shift();
    if (recentDeaths.length > count * 3) {
      log.fatal({ code, signal }, 'workers keep dying; stopping');
      void shutdown(1);
      return;
    }
    log.error({ pid: worker.process.pid, code, signal }, 'worker died; starting another');
    fork();
  });

  const shutdown = async (exitCode: number) => {
    if (stopping) return;
    stopping = true;
    log.info('shutting down workers');
    const workers = Object.values(cluster.workers ?? {}).filter((w): w is Worker => !!w);
    await Promise.all(workers.map((w) => new Promise<void>((resolve) => {
      if (w.isDead()) return resolve();
      const kill = setTimeout(() => w.process.kill('SIGKILL'), 10_000);
      w.once('exit', () => { clearTimeout(kill); resolve(); });
      w.process.kill('SIGTERM');
    })));
    await database.close();
    await flushLog(log);
    process.exit(exitCode);
  };
  process.on('SIGINT', () => void shutdown(0));
  process.on('SIGTERM', () => void shutdown(0));

  for (let i = 0; i < count; i++) fork();
}
