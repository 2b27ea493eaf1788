/**
 * Backend connections (docs/smtp-relay.md, "The session" and "Safety"): how many
 * may be open to one home server at once, in all and from one client, and
 * the one connection a session holds. A session opens it on its first
 * recipient, keeps it between transactions to the same host with the same
 * settings for a while (MYDNS_RELAY_BACKEND_IDLE), and its slot is given
 * back when it closes, however it closes.
 */
import { type IpAddress, parseIpAddress } from '@mydns/domain';
import type { Logger } from '@mydns/runtime';
import type { Reply } from '@mydns/smtp-client';
import type { BackendConnection, BackendContext, BackendTarget } from './backend.ts';
import { type BackendShare, claimParked, type Lease } from './backend-share.ts';
import { clientKey } from './client-limits.ts';
import type { MailHost } from './hosts.ts';
import { replies } from './protocol/replies.ts';

/** Which limit a refused connection met: the host's (451 4.4.5) or one client's share of it (451 4.7.1). */
export type SlotLimit = 'host' | 'client-host';

/** A backend connection's place in the counts, or the limit that refused it. `release` may be called twice. */
export type SlotGrant =
  | {
      readonly granted: true;
      release(): void;
      /**
       * The connection is parked for other sessions (backend-share.ts): it
       * keeps its place in the host's count and gives the client's share back.
       */
      park(): ParkedSlot;
    }
  | { readonly granted: false; readonly limit: SlotLimit };

/** A parked connection's place: the host's count only. */
export interface ParkedSlot {
  /** The connection goes to `client`, if its share of the host allows; after a grant this slot is spent. */
  claim(client: IpAddress): SlotGrant;
  release(): void;
}

export interface BackendSlots {
  /** A slot for a new connection from `client` to `host`. */
  acquire(host: string, client: IpAddress): SlotGrant;
}

export interface BackendSlotLimits {
  /** Connections to one host at once (MYDNS_RELAY_HOST_SESSIONS). */
  readonly perHost: number;
  /**
   * Connections one client may hold to one host (MYDNS_RELAY_CLIENT_HOST_SESSIONS):
   * without it, a few sessions from one sender that stop after RCPT would
   * take all of a host's and block its mail from everybody else.
   */
  readonly perClientHost: number;
  /** IPv6 clients are one client per prefix of this length (MYDNS_RELAY_CLIENT_IPV6_PREFIX). */
  readonly ipv6Prefix: number;
}

export function createBackendSlots(limits: BackendSlotLimits): BackendSlots {
  const perHost = new Map<string, number>();
  const perClientHost = new Map<string, number>();
  const take = (counts: Map<string, number>, key: string) => counts.set(key, (counts.get(key) ?? 0) + 1);
  const give = (counts: Map<string, number>, key: string) => {
    const left = (counts.get(key) ?? 1) - 1;
    if (left <= 0) counts.delete(key);
    else counts.set(key, left);
  };
  // Host names are single DNS labels: no "|" in them.
  const pairOf = (host: string, client: IpAddress) => `${clientKey(client, limits.ipv6Prefix)}|${host}`;
  /** A grant holding the host's place (already taken) and `pair`'s share (already taken). */
  const grant = (host: string, pair: string): SlotGrant => {
    let released = false;
    return {
      granted: true,
      release() {
        if (released) return;
        released = true;
        give(perHost, host);
        give(perClientHost, pair);
      },
      park() {
        if (!released) give(perClientHost, pair);
        const wasReleased = released;
        released = true;
        return parked(host, wasReleased);
      },
    };
  };
  const parked = (host: string, spent: boolean): ParkedSlot => {
    let done = spent;
    return {
      claim(client) {
        const pair = pairOf(host, client);
        if (done) return { granted: false, limit: 'host' };
        if ((perClientHost.get(pair) ?? 0) >= limits.perClientHost)
          return { granted: false, limit: 'client-host' };
        done = true;
        take(perClientHost, pair);
        return grant(host, pair);
      },
      release() {
        if (done) return;
        done = true;
        give(perHost, host);
      },
    };
  };
  return {
    acquire(host, client) {
      const pair = pairOf(host, client);
      // A full host is congestion whoever holds it; only then is the client's own share the reason.
      if ((perHost.get(host) ?? 0) >= limits.perHost) return { granted: false, limit: 'host' };
      if ((perClientHost.get(pair) ?? 0) >= limits.perClientHost)
        return { granted: false, limit: 'client-host' };
      take(perHost, host);
      take(perClientHost, pair);
      return grant(host, pair);
    },
  };
}

/** Where a host's mail goes, and a key that changes whenever any of it does. */
export function backendTargetFor(host: MailHost): { target: BackendTarget; key: string } {
  const domain = `${host.name}.${host.zone}`;
  const addresses = [host.ipv6, host.ipv4]
    .filter((text): text is string => Boolean(text))
    .map((text) => parseIpAddress(text))
    .filter((address): address is IpAddress => address !== undefined);
  const target: BackendTarget = {
    host: domain,
    domain,
    addresses,
    port: host.mail.port ?? 25,
    clientAddress: host.mail.clientAddress,
    tls: host.mail.tls,
    tlsFingerprint: host.mail.tlsFingerprint,
  };
  const key = [
    addresses.map((a) => a.text).join(','),
    target.port,
    target.clientAddress,
    target.tls,
    target.tlsFingerprint ?? '',
  ].join('|');
  return { target, key };
}

/** Shared connections are kept per host as well: two hosts at one address count apart. */
const shareKey = (host: string, key: string) => `${host}|${key}`;

/** The connection a session holds. */
export interface BoundBackend {
  readonly conn: BackendConnection;
  readonly host: string;
  /** MAIL was accepted by the backend for the client's current transaction. */
  inTransaction: boolean;
}

interface Held extends BoundBackend {
  readonly key: string;
  readonly lease: Lease;
  /** The slot's grant while this session holds it (to park it). */
  grant: Extract<SlotGrant, { granted: true }>;
  idleTimer: NodeJS.Timeout | undefined;
}

export type Acquired =
  | { readonly kind: 'ready'; readonly backend: BoundBackend }
  /** No slot left: the host's (451 4.4.5) or this client's share of it (451 4.7.1). */
  | { readonly kind: 'busy'; readonly limit: SlotLimit }
  /** The session ended while the connection was being opened (it was let go). */
  | { readonly kind: 'closed' };

export interface SessionBackendOptions {
  readonly slots: BackendSlots;
  /** The session's client, whose share of a host's connections this session uses. */
  readonly client: IpAddress;
  /** Opens a ready connection (backend-handshake.ts); throws BackendError. */
  readonly open: (target: BackendTarget, context: BackendContext) => Promise<BackendConnection>;
  /** Connections shared with other sessions (backend-share.ts); without it, each session opens its own. */
  readonly share?: BackendShare | undefined;
  /** Takes over a shared connection for this session (backend-handshake.ts); throws BackendError. */
  readonly resume?: (conn: BackendConnection, context: BackendContext) => Promise<void>;
  readonly idleMs: number;
  /** Whether the idle timer may let the connection go now (not while the session waits on something). */
  readonly isIdle: () => boolean;
  readonly logger: Logger;
}

/** One session's backend connection: at most one at a time. */
export class SessionBackend {
  readonly #options: SessionBackendOptions;
  #held: Held | undefined;
  #closed = false;

  constructor(options: SessionBackendOptions) {
    this.#options = options;
  }

  /** The bound connection, if it is still open (one that closed is let go). */
  get current(): BoundBackend | undefined {
    return this.#live();
  }

  #live(): Held | undefined {
    if (this.#held?.conn.closed) this.drop();
    return this.#held;
  }

  /**
   * The connection for `host`. Within a transaction the bound one stays;
   * between transactions it is reused only for the same host with the same
   * address and settings, else let go and a new one opened (when the host has
   * a slot). Throws BackendError when opening fails.
   */
  async acquire(host: MailHost, context: BackendContext): Promise<Acquired> {
    const { target, key } = backendTargetFor(host);
    let held = this.#live();
    if (held && (held.host !== target.host || (!held.inTransaction && held.key !== key))) {
      this.#setAside();
      held = undefined;
    }
    if (!held) {
      const opened = await this.#open(target, key, context);
      if (opened.kind !== 'ready') return opened;
      held = opened.held;
    }
    if (held.idleTimer) clearTimeout(held.idleTimer);
    held.idleTimer = undefined;
    return { kind: 'ready', backend: held };
  }

  async #open(
    target: BackendTarget,
    key: string,
    context: BackendContext,
  ): Promise<{ kind: 'ready'; held: Held } | Exclude<Acquired, { kind: 'ready' }>> {
    const shared = await this.#takeShared(shareKey(target.host, key), context);
    if (shared && shared.kind !== 'ready') return shared;
    if (shared) return this.#hold(shared.conn, target, key, shared.lease, shared.grant);
    let slot = this.#options.slots.acquire(target.host, this.#options.client);
    if (!slot.granted && slot.limit === 'host' && this.#options.share?.evict(`${target.host}|`)) {
      // The host's places were held by connections parked with its old address or settings.
      slot = this.#options.slots.acquire(target.host, this.#options.client);
    }
    if (!slot.granted) return { kind: 'busy', limit: slot.limit };
    let conn: BackendConnection;
    try {
      conn = await this.#options.open(target, context);
    } catch (error) {
      slot.release();
      throw error;
    }
    const lease: Lease = { release: () => slot.release() };
    conn.onClose(() => lease.release());
    return this.#hold(conn, target, key, lease, slot);
  }

  /**
   * A connection another session parked for this host and settings, taken
   * over for this client: its share counted, then resumed (XCLIENT as this
   * client). One that fails to resume goes; undefined means: open a new one.
   */
  async #takeShared(
    key: string,
    context: BackendContext,
  ): Promise<
    | { kind: 'ready'; conn: BackendConnection; lease: Lease; grant: Extract<SlotGrant, { granted: true }> }
    | { kind: 'busy'; limit: SlotLimit }
    | undefined
  > {
    const { share, resume } = this.#options;
    if (!share || !resume) return undefined;
    for (;;) {
      const parked = share.take(key);
      if (!parked) return undefined;
      const grant = claimParked(parked, this.#options.client);
      if (!grant.granted) {
        // This client holds its share already: the connection stays parked for another.
        share.park(key, parked);
        return { kind: 'busy', limit: grant.limit };
      }
      try {
        await resume(parked.conn, context);
        return { kind: 'ready', conn: parked.conn, lease: parked.lease, grant };
      } catch (error) {
        this.#options.logger.debug('a shared backend connection could not be resumed', {
          reason: (error as Error).message,
        });
        parked.conn.destroy();
      }
    }
  }

  #hold(
    conn: BackendConnection,
    target: BackendTarget,
    key: string,
    lease: Lease,
    grant: Extract<SlotGrant, { granted: true }>,
  ): { kind: 'ready'; held: Held } | { kind: 'closed' } {
    const held: Held = {
      conn,
      host: target.host,
      key,
      lease,
      grant,
      inTransaction: false,
      idleTimer: undefined,
    };
    conn.onClose(() => {
      if (held.idleTimer) clearTimeout(held.idleTimer);
      if (this.#held === held) this.#held = undefined;
    });
    if (this.#closed) {
      this.#letGo(held);
      return { kind: 'closed' };
    }
    this.#held = held;
    this.#options.logger.debug('backend connected', {
      host: target.host,
      address: conn.address.text,
      tls: conn.tlsInfo?.version,
    });
    return { kind: 'ready', held };
  }

  /** Between transactions, the connection healthy: parked for other sessions where it may be, else QUIT. */
  #letGo(held: Held): void {
    const { share } = this.#options;
    if (share && held.conn.shareable && held.conn.settled && !held.inTransaction) {
      share.park(shareKey(held.host, held.key), {
        conn: held.conn,
        lease: held.lease,
        slot: held.grant.park(),
      });
      return;
    }
    held.conn.quit();
  }

  /**
   * A reply of the backend, as the client may see it: a 421 is never passed
   * on (the client would take it for ours); the connection goes, and the
   * client gets 451 4.4.2.
   */
  passOn(answer: Reply, hostDomain: string): Reply {
    if (answer.code !== 421) return answer;
    this.drop();
    return replies.backendBroken(hostDomain);
  }

  /** The transaction is over: the connection stays for the next one to the same host, for a while. */
  release(): void {
    const held = this.#held;
    if (!held) return;
    held.inTransaction = false;
    if (held.idleTimer) clearTimeout(held.idleTimer);
    held.idleTimer = setTimeout(() => {
      if (this.#held === held && this.#options.isIdle()) this.drop();
    }, this.#options.idleMs);
  }

  /**
   * Lets the connection go: QUIT between transactions; cut in the middle of
   * one, so the backend never sees a "." (nothing half-delivered).
   */
  drop(): void {
    const held = this.#held;
    if (!held) return;
    this.#held = undefined;
    if (held.idleTimer) clearTimeout(held.idleTimer);
    if (held.inTransaction) held.conn.destroy();
    else held.conn.quit();
  }

  /**
   * Done with the connection, in good order: parked for another session where
   * it may be (#letGo), QUIT otherwise; cut in the middle of a transaction.
   */
  #setAside(): void {
    const held = this.#held;
    if (!held) return;
    this.#held = undefined;
    if (held.idleTimer) clearTimeout(held.idleTimer);
    if (held.inTransaction) held.conn.destroy();
    else this.#letGo(held);
  }

  /** The session ended: the connection is set aside, and one still being opened is let go when it is ready. */
  close(): void {
    this.#closed = true;
    this.#setAside();
  }
}
