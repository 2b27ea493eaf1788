import { errorMessage } from '@mydns/runtime';
import { Router } from 'express';

export type ReadinessChecks = Record<string, () => Promise<unknown>>;

/** /healthz: the process runs. /readyz: every dependency answers, else 503 naming the ones that do not. */
export function createHealthRouter(checks: ReadinessChecks): Router {
  const router = Router();
  router.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  router.get('/readyz', async (_req, res) => {
    const results = await Promise.all(
      Object.entries(checks).map(async ([name, check]) => {
        try {
          await check();
          return [name, { ok: true }] as const;
        } catch (error) {
          return [name, { ok: false, error: errorMessage(error) }] as const;
        }
      }),
    );
    const failing = results.filter(([, result]) => !result.ok).map(([name]) => name);
    res.status(failing.length === 0 ? 200 : 503).json({
      status: failing.length === 0 ? 'ready' : 'unavailable',
      failing,
      checks: Object.fromEntries(results),
    });
  });
  return router;
}
