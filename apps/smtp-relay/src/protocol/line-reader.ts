/**
 * Splits a client's command stream into lines. Pure. A command line ends at
 * LF (a CR before it is dropped): the DATA body, not the command line, is
 * where CR/LF disagreements are dangerous (data-stream.ts). A line longer
 * than the limit is discarded up to its end and reported once, so the reply
 * to it still comes in order (RFC 2920: replies in order, input never lost).
 */

export type LineEvent = { readonly kind: 'line'; readonly line: Buffer } | { readonly kind: 'too-long' };

export class LineReader {
  #buffer: Buffer = Buffer.alloc(0);
  #discarding = false;
  /** Longest line accepted, CRLF included (Postfix `line_length_limit` 2048). */
  readonly maxLength: number;

  constructor(maxLength: number) {
    this.maxLength = maxLength;
  }

  push(chunk: Buffer): void {
    this.#buffer = this.#buffer.length === 0 ? chunk : Buffer.concat([this.#buffer, chunk]);
  }

  /** The next complete line, a too-long report, or undefined when more input is needed. */
  next(): LineEvent | undefined {
    const lf = this.#buffer.indexOf(10);
    if (lf === -1) {
      if (this.#buffer.length >= this.maxLength) {
        this.#discarding = true;
        this.#buffer = Buffer.alloc(0);
      }
      return undefined;
    }
    const raw = this.#buffer.subarray(0, lf);
    this.#buffer = this.#buffer.subarray(lf + 1);
    if (this.#discarding) {
      this.#discarding = false;
      return { kind: 'too-long' };
    }
    if (raw.length + 1 > this.maxLength) return { kind: 'too-long' };
    const line = raw.length > 0 && raw[raw.length - 1] === 13 ? raw.subarray(0, -1) : raw;
    return { kind: 'line', line };
  }

  /** Whether part of a line has arrived (the line-completion deadline runs). */
  get hasPartialLine(): boolean {
    return this.#buffer.length > 0 || this.#discarding;
  }

  get buffered(): number {
    return this.#buffer.length;
  }

  /** Everything not yet taken as a line (the start of a DATA body). */
  takeRest(): Buffer {
    const rest = this.#buffer;
    this.#buffer = Buffer.alloc(0);
    this.#discarding = false;
    return rest;
  }

  /** Drops all buffered input (after STARTTLS: CVE-2011-0411). */
  clear(): number {
    const dropped = this.#buffer.length;
    this.#buffer = Buffer.alloc(0);
    this.#discarding = false;
    return dropped;
  }
}
