import { faultFields } from '@mydns/runtime';
import express, { type Request, type RequestHandler, type Response, Router } from 'express';
import { formatDyndnsReply } from './format-reply.ts';
import { type ParseOptions, parseUpdateRequest, type UpdateEndpoint } from './parse-update-request.ts';
import type { UpdateService } from './update-service.ts';

/**
 * The update endpoints. Replies are plain text with a fixed Content-Length:
 * never chunked or compressed (ddclient 3.10 reads the raw socket), always with
 * a standard reason phrase (inadyn's sscanf needs one). Node closes HTTP/1.0
 * and `Connection: close` requests after the reply and keeps the others alive.
 */

function sendPlain(res: Response, status: number, body: string, challenge = false): void {
  res.status(status);
  res.setHeader('Content-Type', 'text/plain; charset=utf-8');
  res.setHeader('Cache-Control', 'no-store');
  if (challenge) res.setHeader('WWW-Authenticate', 'Basic realm="MyDNS", charset="UTF-8"');
  res.setHeader('Content-Length', Buffer.byteLength(body));
  res.end(body);
}

function rawQuery(req: Request): string {
  const at = req.originalUrl.indexOf('?');
  return at === -1 ? '' : req.originalUrl.slice(at + 1);
}

export function createDyndnsRouter(deps: {
  service: UpdateService;
  parseOptions: ParseOptions;
  /** Counts each reply line's code (metrics). */
  onReply?: (codes: readonly string[]) => void;
}): Router {
  const router = Router();
  const form = express.text({ type: 'application/x-www-form-urlencoded', limit: '8kb' });

  const handle =
    (endpoint: UpdateEndpoint): RequestHandler =>
    async (req, res) => {
      const { client, logger } = res.locals;
      try {
        const request = parseUpdateRequest(
          {
            endpoint,
            query: rawQuery(req),
            body: typeof req.body === 'string' ? req.body : '',
            authorization: req.headers.authorization,
            client,
          },
          deps.parseOptions,
        );
        const outcome = await deps.service.update(request, {
          client,
          userAgent: req.headers['user-agent'],
          logger,
          // HEAD answers as GET would, and changes nothing (link checkers, monitoring).
          dryRun: req.method === 'HEAD',
        });
        const reply = formatDyndnsReply(outcome);
        deps.onReply?.(outcome.kind === 'hosts' ? outcome.results.map((r) => r.code) : [outcome.code]);
        sendPlain(res, reply.status, reply.body, reply.challenge);
      } catch (error) {
        // A 911 is our fault: the stack goes to the log (never the query: it may hold a password).
        logger.error('update failed', faultFields(error));
        const reply = formatDyndnsReply({ kind: 'account', code: '911' });
        deps.onReply?.(['911']);
        sendPlain(res, reply.status, reply.body);
      }
    };

  const methodNotAllowed: RequestHandler = (_req, res) => {
    res.setHeader('Allow', 'GET, HEAD, POST');
    sendPlain(res, 405, 'method not allowed');
  };

  for (const [paths, endpoint] of [
    [['/nic/update', '/v3/update', '/update'], 'dyndns2'],
    [['/u.php'], 'simple'],
  ] as const) {
    router.get([...paths], handle(endpoint));
    router.post([...paths], form, handle(endpoint));
    router.all([...paths], methodNotAllowed);
  }

  // The checkip.dyndns.org answer, for ddclient `use=web` and scripts.
  router.get('/checkip', (_req, res) => sendPlain(res, 200, `Current IP Address: ${res.locals.client.text}`));
  return router;
}
