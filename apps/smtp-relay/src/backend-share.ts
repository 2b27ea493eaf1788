/**
 * Backend connections shared across client sessions (docs/smtp-relay.md, "The
 * session"). A connection whose session is done with it between transactions
 * is parked here for MYDNS_RELAY_BACKEND_IDLE, and the next session to the
 * same host with the same settings takes it instead of opening one: no
 * connect, greeting, EHLO or TLS handshake. Most senders open a connection
 * per message, so without this every message costs the home server a new
 * conversation.
 *
 * Only where the home server cannot tell one session from another
 * (backend-handshake.ts decides, per connection): `none` (it sees the relay in
 * any case), and `xclient` once its XCLIENT was accepted, where the taking
 * session sends its own XCLIENT with the same attributes before anything else
 * (Postfix caches XCLIENT's access control for the connection, so an
 * authorized client may send it again: smtpd.c). Never the PROXY modes: their
 * header comes once, before the greeting. A parked connection keeps its place
 * in the host's count (MYDNS_RELAY_HOST_SESSIONS) and no client's share.
 */
import type { BackendConnection } from './backend.ts';
import type { ParkedSlot, SlotGrant } from './backend-pool.ts';

/** Who answers for a connection's place in the counts now: its session's grant, or its parked slot. */
export interface Lease {
  release: () => void;
}

export interface Parked {
  readonly conn: BackendConnection;
  readonly lease: Lease;
  readonly slot: ParkedSlot;
}

export interface BackendShare {
  /** Parks a connection (the slot's client share already given back); it goes after `idleMs` unused. */
  park(key: string, parked: Parked): void;
  /** The most recently parked open connection for `key`, taken out of the pool; undefined when none. */
  take(key: string): Parked | undefined;
  /**
   * Lets every parked connection whose key starts with `prefix` go, its place
   * given back at once; whether there was any.
   */
  evict(prefix: string): boolean;
  /** Parked connections, in all (for tests and the log). */
  readonly size: number;
  /** The relay stops: every parked connection QUITs. */
  close(): void;
}

export function createBackendShare(options: { readonly idleMs: number }): BackendShare {
  const pool = new Map<string, Set<Parked>>();
  const timers = new Map<Parked, NodeJS.Timeout>();
  let size = 0;
  let closed = false;
  const remove = (key: string, parked: Parked) => {
    const entries = pool.get(key);
    if (!entries?.delete(parked)) return false;
    size--;
    if (entries.size === 0) pool.delete(key);
    const timer = timers.get(parked);
    if (timer) clearTimeout(timer);
    timers.delete(parked);
    return true;
  };
  return {
    get size() {
      return size;
    },
    park(key, parked) {
      if (closed || parked.conn.closed) {
        parked.slot.release();
        parked.conn.quit();
        return;
      }
      parked.lease.release = () => parked.slot.release();
      let entries = pool.get(key);
      if (!entries) {
        entries = new Set();
        pool.set(key, entries);
      }
      entries.add(parked);
      size++;
      // A home server that closes a parked connection (its own idle timeout) takes it out of the pool.
      parked.conn.onClose(() => remove(key, parked));
      const timer = setTimeout(() => {
        if (remove(key, parked)) parked.conn.quit();
      }, options.idleMs);
      timer.unref();
      timers.set(parked, timer);
    },
    take(key) {
      const entries = pool.get(key);
      if (!entries) return undefined;
      const newest = [...entries].pop();
      if (!newest) return undefined;
      remove(key, newest);
      if (newest.conn.closed) return undefined;
      return newest;
    },
    evict(prefix) {
      let any = false;
      for (const [key, entries] of [...pool]) {
        if (!key.startsWith(prefix)) continue;
        for (const parked of [...entries]) {
          remove(key, parked);
          parked.slot.release();
          parked.conn.quit();
          any = true;
        }
      }
      return any;
    },
    close() {
      closed = true;
      for (const [key, entries] of [...pool]) {
        for (const parked of [...entries]) {
          remove(key, parked);
          parked.conn.quit();
        }
      }
    },
  };
}

/** A parked connection's slot, claimed for `client`; refused when that client's share is used up. */
export function claimParked(parked: Parked, client: Parameters<ParkedSlot['claim']>[0]): SlotGrant {
  const grant = parked.slot.claim(client);
  if (grant.granted) parked.lease.release = () => grant.release();
  return grant;
}
