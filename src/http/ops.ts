// Operational endpoints: liveness, readiness (database reachable), metrics.
import Router from '@koa/router';
import type { Metrics } from './metrics.ts';

export function opsRouter(options: { ping: () => Promise<boolean>; metrics: Metrics }): Router {
  const router = new Router();
  router.get('/healthz', (ctx) => {
    ctx.body = { status: 'ok' };
  });
  router.get('/readyz', async (ctx) => {
    const database = await options.ping();
    ctx.status = database ? 200 : 503;
    ctx.body = { status: database ? 'ready' : 'unavailable', database };
  });
  router.get('/metrics', async (ctx) => {
    ctx.type = options.metrics.registry.contentType;
    ctx.body = await options.metrics.registry.metrics();
  });
  return router;
}
