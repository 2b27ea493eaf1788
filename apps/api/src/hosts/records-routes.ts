import express, { type RequestHandler, type Response, Router } from 'express';
import { asyncHandler } from '../http/async-handler.ts';
import type { Pushed } from './hosts-service.ts';
import type { RecordsService } from './records-service.ts';

/**
 * `GET/PUT /api/v1/hosts/{name}/records` (docs/interfaces.md, "Records beyond
 * the host's address"), behind the same password-or-session check as the
 * rest of a host's JSON API (routes.ts).
 */
export function createRecordsRouter(deps: {
  records: RecordsService;
  passwordOnly: RequestHandler;
  answerPushed: (res: Response, result: Pushed, status: number, body?: unknown) => void;
}): Router {
  const router = Router();
  // 50 records of up to 2,048 characters each, with their JSON around them.
  const json = express.json({ limit: '192kb' });
  router.get(
    '/api/v1/hosts/:name/records',
    deps.passwordOnly,
    asyncHandler(async (_req, res) => {
      res.json({ records: await deps.records.list(res.locals.host) });
    }),
  );
  router.put(
    '/api/v1/hosts/:name/records',
    deps.passwordOnly,
    json,
    asyncHandler(async (req, res) => {
      const body = (req.body ?? {}) as Record<string, unknown>;
      const result = await deps.records.replace(res.locals.host, body.records);
      res.locals.logger.info('records replaced', {
        host: res.locals.host.name,
        records: result.records.length,
      });
      deps.answerPushed(res, result, 200, { records: result.records });
    }),
  );
  return router;
}
