import { connect } from 'node:net';

/**
 * HTTP at the byte level, for requests fetch refuses to send (invalid UTF-8,
 * bad methods, huge or broken headers) and for checking that every reply is
 * whole: a status line, headers, and exactly Content-Length bytes of body.
 */

export interface ParsedReply {
  readonly status: number;
  readonly reason: string;
  /** Header names lower-cased; repeated headers joined with ", ". */
  readonly headers: ReadonlyMap<string, string>;
  readonly rawHeaders: string;
  readonly body: Buffer;
  /** The body arrived in full (by Content-Length, or chunked to its last chunk). */
  readonly complete: boolean;
  /** Bytes after this reply (another reply on a keep-alive connection). */
  readonly rest: Buffer;
}

/**
 * Parses one HTTP/1.x reply at the start of `bytes`; undefined while the
 * header block is not complete. `noBody` is for replies to HEAD.
 */
export function parseReply(bytes: Buffer, options: { noBody?: boolean } = {}): ParsedReply | undefined {
  const end = bytes.indexOf('\r\n\r\n');
  if (end === -1) return undefined;
  const head = bytes.subarray(0, end).toString('latin1');
  const [statusLine = '', ...lines] = head.split('\r\n');
  const match = /^HTTP\/1\.[01] (\d{3})(?: (.*))?$/.exec(statusLine);
  if (!match) throw new Error(`not an HTTP status line: ${JSON.stringify(statusLine.slice(0, 200))}`);
  const status = Number(match[1]);
  const headers = new Map<string, string>();
  for (const line of lines) {
    const colon = line.indexOf(':');
    if (colon <= 0) throw new Error(`a malformed header line: ${JSON.stringify(line.slice(0, 200))}`);
    const name = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    headers.set(name, headers.has(name) ? `${headers.get(name)}, ${value}` : value);
  }
  const after = bytes.subarray(end + 4);
  const bodyless = options.noBody || status === 204 || status === 304 || (status >= 100 && status < 200);
  if (bodyless) {
    return {
      status,
      reason: match[2] ?? '',
      headers,
      rawHeaders: head,
      body: Buffer.alloc(0),
      complete: true,
      rest: after,
    };
  }
  const length = headers.get('content-length');
  if (length !== undefined) {
    const size = Number(length);
    const complete = after.length >= size;
    return {
      status,
      reason: match[2] ?? '',
      headers,
      rawHeaders: head,
      body: after.subarray(0, Math.min(size, after.length)),
      complete,
      rest: complete ? after.subarray(size) : Buffer.alloc(0),
    };
  }
  if ((headers.get('transfer-encoding') ?? '').toLowerCase().includes('chunked')) {
    const chunks: Buffer[] = [];
    let at = 0;
    for (;;) {
      const lineEnd = after.indexOf('\r\n', at);
      if (lineEnd === -1) break;
      const size = Number.parseInt(after.subarray(at, lineEnd).toString('latin1'), 16);
      if (Number.isNaN(size)) break;
      if (size === 0) {
        const trailerEnd = after.indexOf('\r\n', lineEnd + 2);
        if (trailerEnd === -1) break;
        return {
          status,
          reason: match[2] ?? '',
          headers,
          rawHeaders: head,
          body: Buffer.concat(chunks),
          complete: true,
          rest: after.subarray(trailerEnd + 2),
        };
      }
      if (after.length < lineEnd + 2 + size + 2) break;
      chunks.push(after.subarray(lineEnd + 2, lineEnd + 2 + size));
      at = lineEnd + 2 + size + 2;
    }
    return {
      status,
      reason: match[2] ?? '',
      headers,
      rawHeaders: head,
      body: Buffer.concat(chunks),
      complete: false,
      rest: Buffer.alloc(0),
    };
  }
  // No length: the body runs to the end of the connection; the caller decides whether that came.
  return {
    status,
    reason: match[2] ?? '',
    headers,
    rawHeaders: head,
    body: after,
    complete: true,
    rest: Buffer.alloc(0),
  };
}

export interface RawOutcome {
  /** Every byte the server sent before the connection ended (or the wait did). */
  readonly bytes: Buffer;
  /** The first reply, when one came whole. */
  readonly reply: ParsedReply | undefined;
  /** The connection ended (closed or reset) rather than the wait timing out. */
  readonly closed: boolean;
  /** A socket error (ECONNREFUSED, ECONNRESET …), if any. */
  readonly error: string | undefined;
  readonly ms: number;
}

/**
 * Sends `request` on a new connection and reads until the server closes it
 * or `timeoutMs` passes. With `untilReply`, stops as soon as one whole reply
 * has come (keep-alive servers do not close).
 */
export function rawExchange(
  port: number,
  request: Buffer | string,
  options: { timeoutMs?: number; untilReply?: boolean; noBody?: boolean } = {},
): Promise<RawOutcome> {
  const timeoutMs = options.timeoutMs ?? 10_000;
  const started = performance.now();
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    let error: string | undefined;
    let settled = false;
    const finish = (closed: boolean) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      const bytes = Buffer.concat(chunks);
      let reply: ParsedReply | undefined;
      try {
        reply = parseReply(bytes, options);
      } catch {
        reply = undefined;
      }
      resolve({
        bytes,
        reply: reply?.complete ? reply : undefined,
        closed,
        error,
        ms: performance.now() - started,
      });
    };
    const timer = setTimeout(() => finish(false), timeoutMs);
    socket.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      if (options.untilReply) {
        try {
          if (parseReply(Buffer.concat(chunks), options)?.complete) finish(false);
        } catch {
          // not HTTP: wait for the close
        }
      }
    });
    socket.on('error', (e: NodeJS.ErrnoException) => {
      error = e.code ?? e.message;
    });
    socket.on('close', () => finish(true));
    socket.write(request);
  });
}

/** A small seeded PRNG (mulberry32): the same seed, the same requests, so a failure can be replayed. */
export function createRandom(seed: number) {
  let state = seed >>> 0;
  const next = (): number => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
  const int = (min: number, max: number): number => min + Math.floor(next() * (max - min + 1));
  return {
    next,
    int,
    chance: (p: number): boolean => next() < p,
    pick<T>(items: readonly T[]): T {
      const item = items[Math.floor(next() * items.length)];
      if (item === undefined) throw new Error('pick from an empty list');
      return item;
    },
    bytes(length: number): Buffer {
      const out = Buffer.alloc(length);
      for (let i = 0; i < length; i++) out[i] = int(0, 255);
      return out;
    },
  };
}

export type Random = ReturnType<typeof createRandom>;

export interface KeepAliveSession {
  /** The replies, in order, each whole. */
  readonly replies: ParsedReply[];
  /**
   * How it ended: `server-close` (a reply said `Connection: close` and the
   * server then closed), `clean-close` (closed between replies), `half-reply`
   * (closed in the middle of a reply: never acceptable), `error` (refused or
   * reset before any byte of a reply), `timeout`, or `done` (nothing more to send).
   */
  readonly ending: 'server-close' | 'clean-close' | 'half-reply' | 'error' | 'timeout' | 'done';
  readonly error: string | undefined;
  /** Bytes of an unfinished reply, for the failure message. */
  readonly partial: string;
}

/**
 * One keep-alive connection sending requests one after the other, each after
 * the previous reply, as a router's HTTP library does.
 */
export function keepAliveSession(
  port: number,
  nextRequest: (n: number) => string | undefined,
  timeoutMs = 20_000,
): Promise<KeepAliveSession> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    const replies: ParsedReply[] = [];
    let buffer = Buffer.alloc(0);
    let error: string | undefined;
    let settled = false;
    let closing = false;
    const finish = (ending: KeepAliveSession['ending']) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      resolve({ replies, ending, error, partial: buffer.toString('latin1').slice(0, 300) });
    };
    const timer = setTimeout(() => finish('timeout'), timeoutMs);
    const send = () => {
      const request = nextRequest(replies.length);
      if (request === undefined) finish('done');
      else socket.write(request);
    };
    socket.on('connect', send);
    socket.on('data', (chunk: Buffer) => {
      buffer = Buffer.concat([buffer, chunk]);
      let reply: ParsedReply | undefined;
      try {
        reply = parseReply(buffer);
      } catch {
        return; // not parseable yet or garbage: the close decides
      }
      if (!reply?.complete) return;
      replies.push(reply);
      buffer = Buffer.from(reply.rest);
      if ((reply.headers.get('connection') ?? '').toLowerCase() === 'close') closing = true;
      else send();
    });
    socket.on('error', (e: NodeJS.ErrnoException) => {
      error = e.code ?? e.message;
    });
    socket.on('close', () => {
      if (buffer.length > 0) finish('half-reply');
      else if (closing) finish('server-close');
      else if (replies.length === 0 && error !== undefined) finish('error');
      else finish('clean-close');
    });
  });
}

/** Methods no update client sends: each must get a clean answer. */
export const WEBDAV_AND_OTHER_METHODS = [
  'PUT',
  'DELETE',
  'PATCH',
  'OPTIONS',
  'PROPFIND',
  'TRACE',
  'MKCOL',
  'LOCK',
  'SEARCH',
  'PURGE',
] as const;
