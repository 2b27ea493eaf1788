import winston from 'winston';

export type Logger = winston.Logger;

export interface LoggerOptions {
  level: string;
  /** JSON lines (production) or readable lines (development). */
  format: 'json' | 'pretty';
  /** Tests pass true: they log nothing unless asked. */
  silent?: boolean;
  /** Also (tests: instead of the console when `silent`) write JSON lines to this file. */
  file?: string;
}

/**
 * Keys whose values never reach a log line (docs/operations.md, "Logs"). Matched
 * case-insensitively anywhere in a log record's metadata.
 */
const SECRET_KEY = /pass(word)?|pwd|secret|token|authorization|api[-_]?key|cookie|query|url/i;

const redact = winston.format((info) => {
  for (const key of Object.keys(info)) {
    if (SECRET_KEY.test(key)) info[key] = '[redacted]';
  }
  return info;
});

export function createLogger(options: LoggerOptions): Logger {
  const format =
    options.format === 'json'
      ? winston.format.combine(redact(), winston.format.timestamp(), winston.format.json())
      : winston.format.combine(
          redact(),
          winston.format.timestamp({ format: 'HH:mm:ss' }),
          winston.format.printf(({ timestamp, level, message, component, ...rest }) => {
            const extra = Object.keys(rest).length > 0 ? ` ${JSON.stringify(rest)}` : '';
            const where = typeof component === 'string' ? ` [${component}]` : '';
            return `${String(timestamp)} ${level}${where} ${String(message)}${extra}`;
          }),
        );
  const transports: winston.transport[] = [];
  if (!options.silent) transports.push(new winston.transports.Console({ stderrLevels: ['error', 'warn'] }));
  if (options.file) {
    transports.push(
      new winston.transports.File({
        filename: options.file,
        format: winston.format.combine(redact(), winston.format.timestamp(), winston.format.json()),
      }),
    );
  }
  return winston.createLogger({
    level: options.level,
    format,
    // winston warns when a logger has no transport at all; a silent one keeps it quiet.
    transports: transports.length > 0 ? transports : [new winston.transports.Console({ silent: true })],
  });
}

/**
 * A log for messages that repeat during an outage (knex prints one per failed
 * pool acquire, stack and all): each distinct first line is logged once per
 * `windowMs`; how many were held back is carried by the next one.
 */
export function repeatLimited(
  log: Logger,
  windowMs = 10_000,
  now: () => number = Date.now,
): (level: 'debug' | 'warn' | 'error', message: string) => void {
  const seen = new Map<string, { until: number; held: number }>();
  return (level, message) => {
    const line = message.split('\n', 1)[0] ?? '';
    const key = `${level} ${line}`;
    const at = now();
    const entry = seen.get(key);
    if (entry && at < entry.until) {
      entry.held += 1;
      return;
    }
    if (seen.size >= 100) {
      for (const [old, value] of seen) if (value.until <= at) seen.delete(old);
    }
    seen.set(key, { until: at + windowMs, held: 0 });
    log.log(level, line, entry && entry.held > 0 ? { repeatsHeldBack: entry.held } : {});
  };
}
