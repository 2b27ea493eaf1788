/**
 * One error base with a stable string code (Outline, Unkey). The API's codes
 * and their HTTP statuses are one catalog (apps/api/src/errors.ts); everything
 * below the HTTP edge throws or returns AppErrors.
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

/**
 * An outage rather than a bug: a system error (`ECONNREFUSED`, `ETIMEDOUT`), a
 * Postgres SQLSTATE (`57P03`: not yet accepting connections), knex's pool
 * timeout. Its stack says nothing an operator can use, and during an outage
 * every request would print one.
 */
function isOutage(error: Error): boolean {
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string' && /^(E[A-Z]+|[0-9A-Z]{5})$/.test(code)) return true;
  return error.name === 'KnexTimeoutError';
}

/** What a log line of a fault carries: the message and, for an Error that is not an outage, its stack. */
export function faultFields(error: unknown): { error: string; stack?: string } {
  return error instanceof Error && error.stack && !isOutage(error)
    ? { error: errorMessage(error), stack: error.stack }
    : { error: errorMessage(error) };
}
