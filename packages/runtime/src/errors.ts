/**
 * One error base with a stable string code (Outline, Unkey). Only the HTTP edge
 * maps codes to statuses; everything below it throws or returns AppErrors.
 */
export class AppError extends Error {
  readonly code: string;
  readonly status: number;
  readonly details: Readonly<Record<string, unknown>> | undefined;

  constructor(
    code: string,
    message: string,
    options: { status?: number; cause?: unknown; details?: Record<string, unknown> } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'AppError';
    this.code = code;
    this.status = options.status ?? 500;
    this.details = options.details;
  }
}

export const badRequest = (code: string, message: string, details?: Record<string, unknown>) =>
  new AppError(code, message, details ? { status: 400, details } : { status: 400 });
export const unauthorized = (message = 'valid credentials are required') =>
  new AppError('unauthorized', message, { status: 401 });
export const forbidden = (code: string, message: string) => new AppError(code, message, { status: 403 });
export const notFound = (code: string, message: string) => new AppError(code, message, { status: 404 });
export const conflict = (code: string, message: string) => new AppError(code, message, { status: 409 });
export const tooManyRequests = (message: string) =>
  new AppError('too_many_requests', message, { status: 429 });
export const unavailable = (code: string, message: string, cause?: unknown) =>
  new AppError(code, message, { status: 503, cause });

/** A startup problem the user can fix; printed as one line without a stack trace. */
export class StartupError extends AppError {
  constructor(message: string, cause?: unknown) {
    super('startup_failed', message, { cause });
    this.name = 'StartupError';
  }
}

export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
