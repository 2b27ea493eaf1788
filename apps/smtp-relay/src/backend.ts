/**
 * The connection to a home mail server (docs/smtp-relay.md, "The session"): the
 * client side of SMTP from @mydns/smtp-client (replies parsed as they
 * arrive, one command at a time for the session, the DATA body written
 * straight through, STARTTLS on the same socket), with what the relay knows
 * about the target. backend-handshake.ts opens it. Every failure is a
 * BackendError whose kind maps to a 451 4.4.x reply: the sender keeps the mail.
 */
import type { Socket } from 'node:net';
import type { IpAddress } from '@mydns/domain';
import type { Logger } from '@mydns/runtime';
import { type ReplyLimits, SmtpConnection, SmtpError } from '@mydns/smtp-client';
import type { BackendTlsMode, ClientAddressMode } from './hosts.ts';
import type { Endpoint } from './protocol/client-address.ts';
import type { TargetPolicy } from './target-policy.ts';

/** blocked → 451 4.4.4, connect → 4.4.1, protocol → 4.4.2, loop → 4.4.6, busy → 4.4.5. */
export type BackendFailure = 'blocked' | 'connect' | 'protocol' | 'loop' | 'busy';

/**
 * The package's SmtpError with the relay's own kinds as well: the connection
 * (@mydns/smtp-client) fails with `connect` and `protocol`, the relay adds the rest.
 */
export const BackendError = SmtpError;
export type BackendError = SmtpError<BackendFailure>;

export interface BackendTarget {
  /** The host's full name, `label.zone` (for logs and per-host limits: a label may be in several zones). */
  readonly host: string;
  /** `<host>.<zone>`: the name a `verify` certificate must carry. */
  readonly domain: string;
  /** Literal addresses, tried in order. */
  readonly addresses: readonly IpAddress[];
  readonly port: number;
  readonly clientAddress: ClientAddressMode;
  readonly tls: BackendTlsMode;
  readonly tlsFingerprint: string | null;
}

export interface BackendContext {
  readonly hostname: string;
  readonly client: Endpoint;
  /** Where the client reached us (the PROXY header's destination). */
  readonly local: Endpoint;
  readonly helo: string | undefined;
  readonly esmtp: boolean;
  readonly policy: TargetPolicy;
  readonly timeouts: {
    readonly connectMs: number;
    readonly greetingMs: number;
    readonly replyMs: number;
    readonly tlsMs: number;
  };
  readonly replyLimits: ReplyLimits;
  readonly logger: Logger;
}

/**
 * The connection to a home server (@mydns/smtp-client's SmtpConnection:
 * replies, commands, STARTTLS), with the target and address it was opened for.
 */
export class BackendConnection extends SmtpConnection {
  readonly target: BackendTarget;
  readonly address: IpAddress;
  /**
   * Set by the handshake when another client's session may take this
   * connection over (backend-share.ts): `none`, or `xclient` with the
   * attributes of the XCLIENT it accepted (the next session's must be the
   * same ones, so that nothing of this client's stays behind).
   */
  shareable: { readonly xclientAttributes: string | undefined } | undefined;

  constructor(socket: Socket, target: BackendTarget, address: IpAddress, limits: ReplyLimits) {
    super(socket, limits);
    this.target = target;
    this.address = address;
    this.shareable = undefined;
  }
}
