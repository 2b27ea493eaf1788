import { connect as netConnect, type Socket } from 'node:net';
import { type TLSSocket, connect as tlsConnect } from 'node:tls';
import { awaitHandshake } from './connection.ts';
import { SmtpError } from './errors.ts';

export interface TcpTarget {
  /** An IP address or a name (resolved by the system). */
  readonly host: string;
  readonly port: number;
  /** 4 or 6 when `host` is a literal of that family. */
  readonly family?: 4 | 6;
}

/**
 * A TCP connection, or an SmtpError of kind `connect` (refused, unreachable,
 * not within `timeoutMs`, or `signal` aborted).
 */
export function connectTcp(target: TcpTarget, timeoutMs: number, signal?: AbortSignal): Promise<Socket> {
  const where = `${target.family === 6 ? `[${target.host}]` : target.host}:${target.port}`;
  if (signal?.aborted) return Promise.reject(new SmtpError('connect', `connect to ${where} aborted`));
  return new Promise((resolve, reject) => {
    const socket = netConnect({
      host: target.host,
      port: target.port,
      ...(target.family ? { family: target.family } : {}),
      noDelay: true,
    });
    const timer = setTimeout(() => {
      socket.destroy();
      signal?.removeEventListener('abort', onAbort);
      reject(new SmtpError('connect', `connect to ${where} timed out`));
    }, timeoutMs);
    const onAbort = () => {
      clearTimeout(timer);
      socket.destroy();
      reject(new SmtpError('connect', `connect to ${where} aborted`));
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    socket.once('connect', () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      socket.off('error', onError);
      resolve(socket);
    });
    const onError = (error: Error) => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      reject(new SmtpError('connect', `connect to ${where} failed: ${error.message}`));
    };
    socket.once('error', onError);
  });
}

/**
 * TLS from the first byte (`smtps`, port 465: RFC 8314 §3.3). The TCP connect
 * is a `connect` failure, the handshake a `protocol` one (tlsHandshake).
 */
export async function connectImplicitTls(
  target: TcpTarget,
  options: {
    rejectUnauthorized: boolean;
    servername: string | undefined;
    connectMs: number;
    tlsMs: number;
    signal?: AbortSignal | undefined;
  },
): Promise<TLSSocket> {
  const { signal } = options;
  const socket = await connectTcp(target, options.connectMs, signal);
  const secure = tlsConnect({
    socket,
    rejectUnauthorized: options.rejectUnauthorized,
    minVersion: 'TLSv1.2',
    ...(options.servername ? { servername: options.servername } : {}),
  });
  const onAbort = () => secure.destroy(new Error('aborted'));
  signal?.addEventListener('abort', onAbort, { once: true });
  try {
    await awaitHandshake(secure, options.tlsMs);
  } catch (error) {
    secure.destroy();
    socket.destroy();
    throw error;
  } finally {
    signal?.removeEventListener('abort', onAbort);
  }
  return secure;
}
