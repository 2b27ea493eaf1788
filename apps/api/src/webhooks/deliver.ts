/**
 * One webhook POST (README "Webhooks"): to the address the target check
 * approved, with the URL's host in `Host` and in TLS (SNI and the
 * certificate check), so the connection goes exactly where the check looked.
 * Redirects are not followed (node's http never does; a 3xx counts as a
 * failure), the whole exchange is cut after `timeoutMs`, and no more than
 * `maxResponseBytes` of the answer are read.
 */
import http from 'node:http';
import https from 'node:https';
import { isIP } from 'node:net';
import { hostOf } from './target.ts';

export interface WebhookRequest {
  readonly url: URL;
  /** The checked address to connect to. */
  readonly address: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
}

export type PostOutcome =
  | { readonly ok: true; readonly httpStatus: number }
  | { readonly ok: false; readonly httpStatus: number | null; readonly error: string };

export interface PostOptions {
  readonly timeoutMs: number;
  readonly maxResponseBytes: number;
  /** Cuts the request (the worker stops). */
  readonly signal?: AbortSignal;
}

export function postWebhook(request: WebhookRequest, options: PostOptions): Promise<PostOutcome> {
  const { url } = request;
  const host = hostOf(url);
  const secure = url.protocol === 'https:';
  const body = Buffer.from(request.body);
  return new Promise((resolve) => {
    let settled = false;
    const finish = (outcome: PostOutcome) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      options.signal?.removeEventListener('abort', onAbort);
      req.destroy();
      resolve(outcome);
    };
    const req = (secure ? https : http).request({
      method: 'POST',
      host: request.address,
      port: url.port === '' ? (secure ? 443 : 80) : Number(url.port),
      path: `${url.pathname}${url.search}`,
      headers: {
        ...request.headers,
        host: url.host,
        'content-type': 'application/json',
        'content-length': String(body.length),
        'user-agent': 'MyDNS-Webhook/1',
      },
      // A connection of its own: nothing pooled outlives the checked address.
      agent: false,
      // SNI takes a name, never an address (RFC 6066 §3).
      ...(secure && isIP(host) === 0 ? { servername: host } : {}),
    });
    const timer = setTimeout(
      () => finish({ ok: false, httpStatus: null, error: `no answer within ${options.timeoutMs} ms` }),
      options.timeoutMs,
    );
    const onAbort = () => finish({ ok: false, httpStatus: null, error: 'stopped' });
    options.signal?.addEventListener('abort', onAbort);
    if (options.signal?.aborted) onAbort();
    req.on('error', (error) => finish({ ok: false, httpStatus: null, error: error.message }));
    req.on('response', (res) => {
      const status = res.statusCode ?? 0;
      let read = 0;
      const done = () =>
        finish(
          status >= 200 && status < 300
            ? { ok: true, httpStatus: status }
            : {
                ok: false,
                httpStatus: status,
                error:
                  status >= 300 && status < 400 ? `redirect (${status}), not followed` : `HTTP ${status}`,
              },
        );
      // The answer is not ours to keep: read a little (so the receiver can finish), then hang up.
      res.on('data', (chunk: Buffer) => {
        read += chunk.length;
        if (read >= options.maxResponseBytes) done();
      });
      res.on('end', done);
      res.on('error', done);
    });
    req.end(body);
  });
}
