import type { Request, Response } from 'express';
import type { Config } from '../config.ts';
import type { SafeHtml } from './html.ts';

/** Small helpers the page routes share. */

export function send(res: Response, status: number, page: SafeHtml): void {
  res.status(status).type('html').setHeader('Cache-Control', 'no-store');
  res.send(page.value);
}

export function field(body: unknown, name: string): string {
  const value = (body as Record<string, unknown> | undefined)?.[name];
  return typeof value === 'string' ? value : '';
}

/** The address clients reach this service at: the setting, or the request's own Host. */
export function baseUrl(config: Config, req: Request, res: Response): string {
  if (config.publicUrl) return config.publicUrl;
  const host = req.headers.host ?? '';
  const safe = /^[A-Za-z0-9.-]+(:[0-9]{1,5})?$|^\[[0-9A-Fa-f:.]+\](:[0-9]{1,5})?$/.test(host)
    ? host
    : `localhost:${config.http.port}`;
  return `${res.locals.https ? 'https' : 'http'}://${safe}`;
}
