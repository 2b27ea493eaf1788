/**
 * Opening a connection to a home mail server (docs/smtp-relay.md, "The session"
 * and "Safety"), one step at a time: block-list check, connect (IPv6 first,
 * then IPv4), the PROXY header when the host wants one, a complete 220
 * banner before we send a byte, EHLO (HELO if refused) with the loop check,
 * STARTTLS per the host's policy, XCLIENT. Every failure is a BackendError.
 */
import type { Socket } from 'node:net';
import type { IpAddress } from '@mydns/domain';
import { errorMessage } from '@mydns/runtime';
import {
  connectTcp as connectSmtpTcp,
  type Reply,
  readGreeting,
  replyDomain,
  sendEhlo,
} from '@mydns/smtp-client';
import { BackendConnection, type BackendContext, BackendError, type BackendTarget } from './backend.ts';
import { formatXclient, proxyV1Header, proxyV2Header } from './protocol/client-address.ts';

/**
 * Opens a ready backend connection for `target`: EHLO done, TLS and XCLIENT
 * as the host asked, able to take MAIL. Throws BackendError.
 */
export async function openBackend(
  target: BackendTarget,
  context: BackendContext,
): Promise<BackendConnection> {
  let last: BackendError | undefined;
  for (const address of allowedAddresses(target, context)) {
    let socket: Socket;
    try {
      socket = await connectTcp(address, target.port, context.timeouts.connectMs);
    } catch (error) {
      last = error as BackendError;
      continue;
    }
    try {
      return await handshake(socket, address, target, context, { plainOnly: false });
    } catch (error) {
      const failure = error as BackendError;
      if (!(failure.tlsHandshake && target.tls === 'opportunistic')) throw failure;
      // On a failed opportunistic handshake, once more in plaintext, as sending MTAs do (docs/smtp-relay.md, "TLS").
      context.logger.info('backend TLS handshake failed; retrying without TLS', { reason: failure.message });
      const again = await connectTcp(address, target.port, context.timeouts.connectMs);
      return await handshake(again, address, target, context, { plainOnly: true });
    }
  }
  throw last ?? new BackendError('connect', 'no address answered');
}

/** The target's addresses the policy lets us connect to; none is a `blocked` failure. */
function allowedAddresses(target: BackendTarget, context: BackendContext): IpAddress[] {
  const allowed: IpAddress[] = [];
  const refused: string[] = [];
  for (const address of target.addresses) {
    const check = context.policy.check(address, target.port);
    if (check.allowed) allowed.push(address);
    else refused.push(check.reason);
  }
  if (allowed.length === 0) throw new BackendError('blocked', refused.join('; ') || 'no address');
  return allowed;
}

function connectTcp(address: IpAddress, port: number, timeoutMs: number): Promise<Socket> {
  return connectSmtpTcp({ host: address.text, port, family: address.family }, timeoutMs);
}

async function handshake(
  socket: Socket,
  address: IpAddress,
  target: BackendTarget,
  context: BackendContext,
  options: { plainOnly: boolean },
): Promise<BackendConnection> {
  const conn = new BackendConnection(socket, target, address, context.replyLimits);
  try {
    sendProxyHeader(conn, target, context);
    await awaitGreeting(conn, context);
    await introduce(conn, context);
    await startTlsByPolicy(conn, target, context, options.plainOnly ? 'none' : target.tls);
    const xclient = await sendXclient(conn, target, context);
    if (target.clientAddress === 'none') conn.shareable = { xclientAttributes: undefined };
    if (target.clientAddress === 'xclient' && xclient) conn.shareable = { xclientAttributes: xclient };
    return conn;
  } catch (error) {
    conn.destroy();
    if (error instanceof BackendError) throw error;
    throw new BackendError('protocol', errorMessage(error));
  }
}

/** PROXY v1/v2 comes before anything else, even before the greeting is read. */
function sendProxyHeader(conn: BackendConnection, target: BackendTarget, context: BackendContext): void {
  if (target.clientAddress === 'proxy-v2') conn.writeRaw(proxyV2Header(context.client, context.local));
  if (target.clientAddress === 'proxy-v1') conn.writeRaw(proxyV1Header(context.client, context.local));
}

/** A complete `220` banner, not naming us (a loop). */
async function awaitGreeting(conn: BackendConnection, context: BackendContext): Promise<void> {
  const greeting = await readGreeting(conn, context.timeouts.greetingMs);
  if (replyDomain(greeting) === context.hostname) throw new BackendError('loop', 'the greeting names us');
}

/** EHLO, or HELO when EHLO is refused (then no extensions: undefined); sets the capabilities. */
const ehlo = (conn: BackendConnection, name: string, context: BackendContext): Promise<Reply | undefined> =>
  sendEhlo(conn, name, context.timeouts.replyMs);

/** The first EHLO, as ourselves; a reply that names us is a loop. */
async function introduce(conn: BackendConnection, context: BackendContext): Promise<void> {
  const reply = await ehlo(conn, context.hostname, context);
  if (reply && replyDomain(reply) === context.hostname)
    throw new BackendError('loop', 'the EHLO reply names us');
}

const normaliseFingerprint = (text: string) => text.replace(/[^0-9a-fA-F]/g, '').toLowerCase();

/**
 * STARTTLS as the host's policy says (docs/smtp-relay.md, "TLS"): `opportunistic`
 * when offered (any certificate), `fingerprint` and `verify` always (a server
 * that does not offer it or refuses it is a failure, never plaintext), then
 * EHLO again inside TLS.
 */
async function startTlsByPolicy(
  conn: BackendConnection,
  target: BackendTarget,
  context: BackendContext,
  mode: BackendTarget['tls'],
): Promise<void> {
  if (mode === 'none') return;
  if (!conn.capabilities.starttls) {
    if (mode === 'opportunistic') return;
    throw new BackendError('protocol', `TLS policy ${mode}, but STARTTLS is not offered`);
  }
  const ready = await conn.command('STARTTLS', context.timeouts.replyMs);
  if (ready.code !== 220) {
    if (mode === 'opportunistic') return;
    throw new BackendError('protocol', `STARTTLS refused (${ready.code})`);
  }
  const secure = await conn.startTls({
    rejectUnauthorized: mode === 'verify',
    servername: mode === 'verify' ? target.domain : undefined,
    timeoutMs: context.timeouts.tlsMs,
  });
  if (mode === 'fingerprint') {
    const pinned = normaliseFingerprint(target.tlsFingerprint ?? '');
    const actual = normaliseFingerprint(secure.getPeerCertificate().fingerprint256 ?? '');
    if (pinned === '' || pinned !== actual) {
      throw new BackendError(
        'protocol',
        pinned === '' ? 'no pinned fingerprint configured' : 'certificate fingerprint mismatch',
      );
    }
  }
  await ehlo(conn, context.hostname, context);
}

/**
 * XCLIENT (after STARTTLS) with what the server offers; it answers 220 or
 * 250 and is back in its greeting state, so EHLO again, as the client. A
 * server that does not offer it or refuses it sees the relay's address.
 */
async function sendXclient(
  conn: BackendConnection,
  target: BackendTarget,
  context: BackendContext,
): Promise<string | undefined> {
  if (target.clientAddress !== 'xclient') return undefined;
  const offered = conn.capabilities.xclient;
  const line = offered
    ? formatXclient({ client: context.client, helo: context.helo, esmtp: context.esmtp }, offered)
    : undefined;
  if (!line) {
    context.logger.warn('the home server does not offer XCLIENT to us; it sees the relay address', {
      host: target.host,
    });
    return undefined;
  }
  const answer = await conn.command(line, context.timeouts.replyMs);
  if (answer.code !== 220 && answer.code !== 250) {
    context.logger.warn('the home server refused XCLIENT; it sees the relay address', {
      host: target.host,
      code: answer.code,
    });
    return undefined;
  }
  await ehlo(conn, clientHelo(context), context);
  return xclientAttributes(line);
}

/** The name we EHLO with after XCLIENT: the client's own, when it is one we can send. */
const clientHelo = (context: BackendContext) =>
  context.helo && /^[\x21-\x7e]{1,255}$/.test(context.helo) ? context.helo : context.hostname;

/** `XCLIENT PROTO=ESMTP HELO=x ADDR=y` → `PROTO HELO ADDR`. */
const xclientAttributes = (line: string) =>
  line
    .split(' ')
    .slice(1)
    .map((pair) => pair.split('=')[0])
    .join(' ');

/**
 * Takes over a shared connection (backend-share.ts) for this session: with
 * `xclient`, this client's XCLIENT, with the very attributes the connection's
 * first one had (so none of the previous client's stays), and EHLO again as
 * the client; with `none`, an RSET that shows the connection still works.
 * Throws BackendError: the caller lets it go and opens a new one.
 */
export async function resumeBackend(conn: BackendConnection, context: BackendContext): Promise<void> {
  const shared = conn.shareable;
  if (!shared) throw new BackendError('protocol', 'not a shareable connection');
  if (shared.xclientAttributes === undefined) {
    const answer = await conn.command('RSET', context.timeouts.replyMs);
    if (answer.code !== 250) throw new BackendError('protocol', `RSET answered ${answer.code}`);
    return;
  }
  const offered = conn.capabilities.xclient;
  const line = offered
    ? formatXclient({ client: context.client, helo: context.helo, esmtp: context.esmtp }, offered)
    : undefined;
  if (!line || xclientAttributes(line) !== shared.xclientAttributes)
    throw new BackendError('protocol', "this client's XCLIENT would differ in its attributes");
  const answer = await conn.command(line, context.timeouts.replyMs);
  if (answer.code !== 220 && answer.code !== 250)
    throw new BackendError('protocol', `XCLIENT answered ${answer.code}`);
  await ehlo(conn, clientHelo(context), context);
}
