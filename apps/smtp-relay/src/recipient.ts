/**
 * RCPT (docs/smtp-relay.md, "Routing" and "The session"): the recipient domain
 * routed to a host, that host's backend connection (backend-pool.ts), MAIL
 * replayed there for the transaction's first recipient, the RCPT forwarded,
 * and what the client is told. Every failure on our side is a 4xx.
 */
import type { Logger } from '@mydns/runtime';
import { isPositive, type Reply } from '@mydns/smtp-client';
import { type BackendContext, BackendError } from './backend.ts';
import type { BoundBackend, SessionBackend } from './backend-pool.ts';
import type { RelayEvent } from './metrics.ts';
import { formatMailCommand, formatPath, type Mailbox } from './protocol/command.ts';
import { replies } from './protocol/replies.ts';
import type { Transaction } from './protocol/state-machine.ts';
import type { Router } from './routing.ts';

export interface RecipientDeps {
  readonly router: Router;
  readonly timeouts: { readonly routingMs: number; readonly backendReplyMs: number };
  readonly backend: SessionBackend;
  /** The client's address as the 451 4.7.1 reply names it. */
  readonly clientText: string;
  /** Built when a connection is opened (it carries the HELO the client gave by then). */
  readonly backendContext: () => BackendContext;
  readonly logger: Logger;
  readonly onEvent?: ((event: RelayEvent) => void) | undefined;
}

export interface RecipientOutcome {
  readonly reply: Reply;
  /** The host whose server accepted the recipient (its full name): it is in the transaction now. */
  readonly acceptedBy?: string;
  /** Not the client's fault: the error limit does not count it. */
  readonly countsAsError?: false;
}

/**
 * What RCPT comes to; undefined when there is nothing to answer (the session
 * ended while a connection was opened).
 */
export async function handleRecipient(
  deps: RecipientDeps,
  transaction: Transaction,
  mailbox: Mailbox,
  address: string,
): Promise<RecipientOutcome | undefined> {
  const route = await withDeadline(deps.router.route(mailbox.domain), deps.timeouts.routingMs);
  if (route === undefined || route.kind === 'error') {
    deps.logger.warn('recipient lookup failed', {
      domain: mailbox.domain,
      reason: route?.reason ?? 'timed out',
    });
    return { reply: replies.lookupFailed() };
  }
  if (route.kind === 'none') return { reply: replies.relayDenied(address) };
  if (route.kind === 'unavailable') {
    deps.logger.info('host not deliverable now', { host: route.host, reason: route.reason });
    return { reply: replies.unroutable(route.host) };
  }
  const host = route.host;
  const hostDomain = `${host.name}.${host.zone}`;
  if (transaction.host !== undefined && transaction.host !== hostDomain) {
    // One transaction, one home server: the sender retries this one separately.
    return { reply: replies.splitTransaction(address, route.domain), countsAsError: false };
  }
  if (transaction.accepted > 0 && !deps.backend.current?.inTransaction) {
    // The backend that accepted this transaction's recipients is gone with them.
    return { reply: replies.backendBroken(hostDomain) };
  }
  try {
    const acquired = await deps.backend.acquire(host, deps.backendContext());
    if (acquired.kind === 'closed') return undefined;
    if (acquired.kind === 'busy') {
      const limit = acquired.limit === 'host' ? 'host' : 'client_host';
      deps.onEvent?.({ type: 'backend_refused', limit });
      deps.logger.info('no backend connection left', { host: hostDomain, limit });
      return {
        reply:
          acquired.limit === 'host'
            ? replies.congestion(hostDomain)
            : replies.clientCongestion(deps.clientText, hostDomain),
      };
    }
    // The home server gets the domain as it was routed (ASCII), never look-alike or raw UTF-8 bytes.
    const routed = { ...mailbox, domain: route.domain };
    return await forward(deps, acquired.backend, transaction, routed, hostDomain);
  } catch (error) {
    if (!(error instanceof BackendError)) throw error;
    deps.logger.info('backend failed', { host: hostDomain, kind: error.kind, reason: error.message });
    deps.backend.drop();
    return { reply: failureReply(error, hostDomain, route.domain) };
  }
}

/** RCPT to the backend, after MAIL when this is the transaction's first (pipelined when it can). */
async function forward(
  deps: RecipientDeps,
  bound: BoundBackend,
  transaction: Transaction,
  mailbox: Mailbox,
  hostDomain: string,
): Promise<RecipientOutcome> {
  const { backendReplyMs } = deps.timeouts;
  const rcpt = `RCPT TO:${formatPath(mailbox)}`;
  const answered = (answer: Reply): RecipientOutcome => ({
    reply: deps.backend.passOn(answer, hostDomain),
    ...(isPositive(answer) ? { acceptedBy: bound.host } : {}),
  });
  if (bound.inTransaction) return answered(await bound.conn.command(rcpt, backendReplyMs));
  const caps = bound.conn.capabilities;
  if (transaction.params.body === '8BITMIME' && !caps.eightBitMime)
    return { reply: replies.eightBitUnsupported(hostDomain) };
  if (transaction.params.smtputf8 && !caps.smtputf8) return { reply: replies.utf8Unsupported(hostDomain) };
  const mail = formatMailCommand(transaction.sender, transaction.params, {
    size: caps.size,
    eightBitMime: caps.eightBitMime,
    smtputf8: caps.smtputf8,
  });
  const [mailAnswer, rcptAnswer] = caps.pipelining
    ? await bound.conn.pipelined([mail, rcpt], backendReplyMs)
    : [await bound.conn.command(mail, backendReplyMs), undefined];
  // A refused MAIL is this recipient's answer (as nginx's mail proxy does).
  if (!mailAnswer) return { reply: replies.backendBroken(hostDomain) };
  if (!isPositive(mailAnswer)) return { reply: deps.backend.passOn(mailAnswer, hostDomain) };
  bound.inTransaction = true;
  return answered(rcptAnswer ?? (await bound.conn.command(rcpt, backendReplyMs)));
}

function failureReply(error: BackendError, hostDomain: string, domain: string): Reply {
  switch (error.kind) {
    case 'blocked':
      return replies.unroutable(hostDomain);
    case 'connect':
      return replies.backendRefused(hostDomain);
    case 'loop':
      return replies.loop(domain);
    case 'busy':
      return replies.congestion(hostDomain);
    default:
      return replies.backendBroken(hostDomain);
  }
}

async function withDeadline<T>(work: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<undefined>((resolve) => {
    timer = setTimeout(() => resolve(undefined), ms);
  });
  try {
    return await Promise.race([work, deadline]);
  } finally {
    clearTimeout(timer);
  }
}
