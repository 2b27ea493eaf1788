import { AppError } from '@mydns/runtime';
import type { ErrorRequestHandler, RequestHandler, Response } from 'express';

/** JSON errors: `{"error":{"code","message"}}`, never a stack trace or an HTML page (INTERFACES.md). */
export function sendError(
  res: Response,
  status: number,
  code: string,
  message: string,
  details?: unknown,
): void {
  res
    .status(status)
    .type('application/json')
    .send(JSON.stringify({ error: { code, message, ...(details === undefined ? {} : { details }) } }));
}

export const notFoundHandler: RequestHandler = (_req, res) => {
  sendError(res, 404, 'not_found', 'no such endpoint');
};

interface HttpError {
  status?: number;
  statusCode?: number;
  type?: string;
  expose?: boolean;
}

/**
 * JSON for the API and everything else; an HTML page (`htmlPage`) only for a
 * browser's request of a web page.
 */
export const createErrorHandler =
  (htmlPage?: (error: unknown) => string): ErrorRequestHandler =>
  (error: unknown, req, res, next) => {
    const wantsHtml =
      htmlPage !== undefined && !req.path.startsWith('/api/') && req.accepts(['json', 'html']) === 'html';
    if (wantsHtml && !res.headersSent) {
      const status = error instanceof AppError ? error.status : 500;
      if (status >= 500)
        res.locals.logger?.error('request failed', { error: (error as Error).message, path: req.path });
      res.status(status).type('html').send(htmlPage(error));
      return;
    }
    errorHandler(error, req, res, next);
  };

export const errorHandler: ErrorRequestHandler = (error: unknown, req, res, _next) => {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  if (error instanceof AppError && error.status < 500) {
    sendError(res, error.status, error.code, error.message, error.details);
    return;
  }
  // body-parser and friends: too large, bad JSON, bad charset.
  const http = error as HttpError;
  const status = http.status ?? http.statusCode;
  if (status !== undefined && status >= 400 && status < 500) {
    const code = http.type === 'entity.too.large' ? 'body_too_large' : 'bad_request';
    sendError(
      res,
      status,
      code,
      http.type === 'entity.parse.failed' ? 'the body is not valid JSON' : code.replace(/_/g, ' '),
    );
    return;
  }
  const logger = res.locals.logger ?? req.app.locals.logger;
  logger?.error('request failed', {
    error: error instanceof Error ? error.message : String(error),
    path: req.path,
  });
  if (error instanceof AppError) {
    sendError(res, error.status, error.code, error.message);
    return;
  }
  sendError(res, 500, 'internal_error', 'something went wrong on our side; please retry later');
};
