import type { RequestHandler } from 'express';
import { apiError } from '../errors.ts';

/**
 * State-changing requests (POST, PUT, PATCH, DELETE) must come from our own
 * pages: a browser says where a request comes from in `Sec-Fetch-Site` and
 * `Origin`, and a page on another origin — an owner's site under the zone
 * (`alice.<zone>` is same-site, not same-origin), or anywhere else — is refused
 * before any session cookie is looked at. Requests that carry neither header
 * (curl, routers, scripts using Basic auth) are not browsers' cross-site
 * requests and pass. The update endpoints are mounted before this and never
 * see it.
 */
export function requireSameOrigin(options: { publicUrl: string | undefined }): RequestHandler {
  const unsafe = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);
  return (req, res, next) => {
    if (!unsafe.has(req.method)) {
      next();
      return;
    }
    const fetchSite = req.headers['sec-fetch-site'];
    if (typeof fetchSite === 'string' && fetchSite !== 'same-origin' && fetchSite !== 'none') {
      next(refusal());
      return;
    }
    const origin = req.headers.origin;
    if (typeof origin === 'string') {
      const own = `${res.locals.https ? 'https' : 'http'}://${req.headers.host ?? ''}`.toLowerCase();
      const allowed =
        origin.toLowerCase() === own || origin.toLowerCase() === options.publicUrl?.toLowerCase();
      if (!allowed) {
        next(refusal());
        return;
      }
    }
    next();
  };
}

const refusal = () =>
  apiError(
    'cross_site_request',
    'This request came from another site. Open the MyDNS page itself and try again from there.',
  );
