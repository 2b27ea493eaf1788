import { AppError, faultFields } from '@mydns/runtime';
import type { ErrorRequestHandler, Request, RequestHandler, Response } from 'express';
import { ERROR_STATUS, type ErrorCode } from '../errors.ts';

/** JSON errors: `{"error":{"code","message"}}`, never a stack trace or an HTML page (docs/interfaces.md, "Errors"). */
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
  sendError(res, ERROR_STATUS.not_found, 'not_found', 'no such endpoint');
};

interface HttpError {
  status?: number;
  statusCode?: number;
  type?: string;
  code?: string;
  name?: string;
}

/** Postgres gone, refusing, restarting, or too slow to answer: a 503, not our fault. */
function isDatabaseUnavailable(error: unknown): boolean {
  const e = error as HttpError & { message?: string };
  if (e?.name === 'KnexTimeoutError') return true;
  if (
    e?.code &&
    [
      'ECONNREFUSED',
      'ECONNRESET',
      'ETIMEDOUT',
      'EPIPE',
      '57P01',
      '57P02',
      '57P03',
      '08006',
      '08001',
      '08003',
    ].includes(e.code)
  ) {
    return true;
  }
  return /Connection terminated|Query read timeout|timeout exceeded when trying to connect/i.test(
    e?.message ?? '',
  );
}

interface Classified {
  status: number;
  code: string;
  message: string;
  details?: unknown;
  /** Our fault: logged. */
  fault: boolean;
}

/** Every error mapped to a status and a stable code, in one place. */
function classify(error: unknown): Classified {
  if (error instanceof AppError) {
    return {
      status: error.status,
      code: error.code,
      message: error.message,
      details: error.details,
      fault: error.status >= 500,
    };
  }
  // body-parser and friends: too large, bad JSON, bad charset or encoding.
  const http = error as HttpError;
  const status = http?.status ?? http?.statusCode;
  if (status !== undefined && status >= 400 && status < 500) {
    const code: ErrorCode =
      http.type === 'entity.too.large'
        ? 'body_too_large'
        : http.type === 'charset.unsupported' || http.type === 'encoding.unsupported'
          ? 'unsupported_encoding'
          : 'bad_request';
    const message =
      http.type === 'entity.parse.failed' ? 'the body is not valid JSON' : code.replace(/_/g, ' ');
    return { status: ERROR_STATUS[code], code, message, fault: false };
  }
  if (isDatabaseUnavailable(error)) {
    return {
      status: ERROR_STATUS.database_unavailable,
      code: 'database_unavailable',
      message: 'the database does not answer; please retry later',
      fault: true,
    };
  }
  return {
    status: ERROR_STATUS.internal_error,
    code: 'internal_error',
    message: 'something went wrong on our side; please retry later',
    fault: true,
  };
}

/** A fault keeps its stack in the log: that is what an operator needs at 3 a.m. */
function logFault(error: unknown, req: Request, res: Response): void {
  const logger = res.locals.logger ?? req.app.locals.logger;
  logger?.error('request failed', { ...faultFields(error), path: req.path });
}

/**
 * An HTML page for the web paths (people's: `web.isWebPath` says which
 * paths those are, whatever their Accept header), JSON for the API, the update endpoints
 * and everything else.
 */
export const createErrorHandler =
  (web?: {
    isWebPath: (path: string) => boolean;
    page: (error: unknown, status: number) => string;
  }): ErrorRequestHandler =>
  (error: unknown, req, res, _next) => {
    if (res.headersSent) {
      res.destroy();
      return;
    }
    const classified = classify(error);
    if (classified.fault) logFault(error, req, res);
    if (web?.isWebPath(req.path)) {
      res
        .status(classified.status)
        .type('html')
        .setHeader('Cache-Control', 'no-store')
        .send(web.page(error, classified.status));
      return;
    }
    sendError(res, classified.status, classified.code, classified.message, classified.details);
  };
