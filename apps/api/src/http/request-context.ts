import { randomUUID } from 'node:crypto';
import type { Cidr, IpAddress } from '@mydns/domain';
import type { Logger } from '@mydns/runtime';
import type { RequestHandler } from 'express';
import { isTrustedPeer, resolveClientAddress } from './client-address.ts';

declare global {
  namespace Express {
    interface Locals {
      logger: Logger;
      client: IpAddress;
      requestId: string;
      /** The client reached us over HTTPS (directly, or through a trusted proxy that says so). */
      https: boolean;
    }
  }
}

/**
 * Per request: an id, the caller's address (trusted proxies honoured) and a
 * child logger carrying both. Query strings are never logged (they can hold
 * passwords): only the path is.
 */
export function requestContext(logger: Logger, trustedProxies: readonly Cidr[]): RequestHandler {
  return (req, res, next) => {
    const client = resolveClientAddress(
      req.socket.remoteAddress,
      req.headers['x-forwarded-for'],
      trustedProxies,
    );
    if (!client) {
      // The socket is already gone; nothing sensible to answer.
      res.destroy();
      return;
    }
    const supplied = req.headers['x-request-id'];
    const requestId =
      typeof supplied === 'string' && /^[A-Za-z0-9._-]{1,64}$/.test(supplied) ? supplied : randomUUID();
    res.locals.requestId = requestId;
    res.locals.client = client;
    const encrypted = Boolean((req.socket as { encrypted?: boolean }).encrypted);
    res.locals.https =
      encrypted ||
      (isTrustedPeer(req.socket.remoteAddress, trustedProxies) &&
        req.headers['x-forwarded-proto'] === 'https');
    res.locals.logger = logger.child({ requestId, client: client.text });
    res.setHeader('X-Request-Id', requestId);
    if (logger.isLevelEnabled('debug')) {
      const started = performance.now();
      res.on('finish', () => {
        res.locals.logger.debug(`${req.method} ${req.path} ${res.statusCode}`, {
          ms: Math.round(performance.now() - started),
        });
      });
    }
    next();
  };
}

/** `//nic//update/` → `/nic/update/`: UniFi generates doubled slashes (docs/protocol.md, "What real clients send"). */
export const collapseSlashes: RequestHandler = (req, _res, next) => {
  const query = req.url.indexOf('?');
  const path = query === -1 ? req.url : req.url.slice(0, query);
  if (path.includes('//'))
    req.url = path.replace(/\/{2,}/g, '/') + (query === -1 ? '' : req.url.slice(query));
  next();
};
