import type { HostRecord } from '@mydns/db';
import { fqdn, labelFromUsername } from '@mydns/domain';
import { AppError, tooManyRequests, unauthorized } from '@mydns/runtime';
import express, { type RequestHandler, Router } from 'express';
import type { Authenticator } from '../auth/authenticator.ts';
import type { RateLimiter } from '../auth/rate-limiter.ts';
import { parseBasicAuthorization } from '../dyndns/parse-update-request.ts';
import type { HostsService } from './hosts-service.ts';

declare global {
  namespace Express {
    interface Locals {
      host: HostRecord;
    }
  }
}

export interface HostsRouterDeps {
  zone: string;
  hosts: HostsService;
  authenticator: Authenticator;
  failureLimiter: RateLimiter;
  registrationLimiter: RateLimiter;
}

export function createHostsRouter(deps: HostsRouterDeps): Router {
  const router = Router();
  const json = express.json({ limit: '16kb' });

  /** Basic auth with the host's password; the host in the path must be the one authenticated. */
  const requireHost: RequestHandler = async (req, res, next) => {
    try {
      const { client } = res.locals;
      res.setHeader('WWW-Authenticate', 'Basic realm="MyDNS", charset="UTF-8"');
      const credentials = parseBasicAuthorization(req.headers.authorization);
      if (!credentials) throw unauthorized();
      if (deps.failureLimiter.isLimited(client.text))
        throw tooManyRequests('too many failed logins; try later');
      const label = labelFromUsername(credentials.username, deps.zone);
      const host = label === undefined ? undefined : await deps.hosts.find(label);
      if (!host || !(await deps.authenticator.verify(host, credentials.secret))) {
        deps.failureLimiter.hit(client.text);
        throw unauthorized('wrong hostname or password');
      }
      const wanted = String(req.params.name ?? '').toLowerCase();
      if (wanted !== host.name && wanted !== fqdn(host.name, deps.zone)) {
        throw new AppError('forbidden', 'these credentials are for another host', { status: 403 });
      }
      res.removeHeader('WWW-Authenticate');
      res.locals.host = host;
      next();
    } catch (error) {
      next(error);
    }
  };

  router.post('/api/v1/hosts', json, async (req, res, next) => {
    try {
      if (!deps.registrationLimiter.hit(res.locals.client.text)) {
        throw tooManyRequests('too many registrations from this address; try again later');
      }
      const body = (req.body ?? {}) as Record<string, unknown>;
      const host = await deps.hosts.register({
        hostname: body.hostname,
        password: body.password,
        email: body.email,
      });
      res.locals.logger.info('host registered', { host: host.name });
      res.status(201).location(`/api/v1/hosts/${host.name}`).json(host);
    } catch (error) {
      next(error);
    }
  });

  router.get('/api/v1/hosts/:name', requireHost, (_req, res) => {
    res.json(deps.hosts.view(res.locals.host));
  });

  return router;
}
