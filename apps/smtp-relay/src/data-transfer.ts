/**
 * One message body on its way to the home server (docs/smtp-relay.md, "The
 * session"): the client's bytes through the DATA stream (protocol/
 * data-stream.ts: the end only at CRLF "." CRLF, bare CR and LF rewritten),
 * the Received header with the first of them, the final "." only at the real
 * end. Forwarding stops past the size limit (the backend never sees a ".")
 * and once the backend has given up; then its answer stands.
 */

import type { Reply } from '@mydns/smtp-client';
import { BackendError } from './backend.ts';
import type { BoundBackend } from './backend-pool.ts';
import { DataStream } from './protocol/data-stream.ts';

export interface Fed {
  /** The end-of-data line was read; `rest` is what the client sent after it. */
  readonly done: boolean;
  readonly rest: Buffer;
  /** This chunk took the message past the size limit: the connection must be cut. */
  readonly overLimit: boolean;
  /** The backend's buffer is full: stop reading the client until it drains. */
  readonly stalled: boolean;
}

export class DataTransfer {
  readonly backend: BoundBackend;
  readonly #stream = new DataStream();
  readonly #maxSize: number;
  /** The Received header, sent with the first bytes of the body. */
  #header: string | undefined;
  #forwarding = true;
  #oversize = false;
  /** The final "." went out with the last bytes. */
  #terminated = false;

  constructor(backend: BoundBackend, header: string, maxSize: number) {
    this.backend = backend;
    this.#header = header;
    this.#maxSize = maxSize;
  }

  /** Octets of the message so far (before the end-of-data line). */
  get size(): number {
    return this.#stream.size;
  }

  get oversize(): boolean {
    return this.#oversize;
  }

  feed(chunk: Buffer): Fed {
    const result = this.#stream.feed(chunk);
    const conn = this.backend.conn;
    let overLimit = false;
    if (!this.#oversize && this.#stream.size > this.#maxSize) {
      this.#oversize = true;
      this.#forwarding = false;
      overLimit = true;
    }
    if (this.#forwarding && (conn.closed || conn.unsolicited > 0)) this.#forwarding = false;
    let stalled = false;
    if (this.#forwarding) {
      let flowing = true;
      conn.cork();
      if (this.#header !== undefined) {
        flowing = conn.write(this.#header);
        this.#header = undefined;
      }
      for (const piece of result.output) flowing = conn.write(piece) && flowing;
      if (result.done) {
        conn.write('.\r\n');
        this.#terminated = true;
      }
      conn.uncork();
      stalled = !flowing && !result.done;
    }
    return { done: result.done, rest: result.rest, overLimit, stalled };
  }

  /**
   * Backpressure: `go` once the backend has taken what it was given (or is
   * gone); a backend that takes nothing for `stallMs` is cut.
   */
  whenDrained(stallMs: number, go: () => void): void {
    const conn = this.backend.conn;
    const stall = setTimeout(() => {
      this.#forwarding = false;
      conn.destroy();
    }, stallMs);
    const done = () => {
      clearTimeout(stall);
      go();
    };
    conn.onceDrain(done);
    conn.onClose(done);
  }

  /**
   * The backend's answer to the message. `early`: it answered before the end
   * (it gave up on the message), its answer stands and the connection must go.
   * Throws BackendError when there is no answer to be had.
   */
  async answer(timeouts: { finalMs: number; replyMs: number }): Promise<{ reply: Reply; early: boolean }> {
    const conn = this.backend.conn;
    if (this.#terminated && !conn.closed)
      return { reply: await conn.readReply(timeouts.finalMs), early: false };
    if (!conn.closed && conn.unsolicited > 0)
      return { reply: await conn.readReply(timeouts.replyMs), early: true };
    throw new BackendError('protocol', conn.failure?.message ?? 'connection lost during DATA');
  }
}
