/**
 * The DATA body on its way from a client to a backend. Pure, streaming, no
 * line buffer. SMTP smuggling (docs/smtp-relay.md, "The session") lives in the gap
 * between two parsers' ideas of where a message ends, so:
 *
 * - the end of data is only CRLF "." CRLF in the input (RFC 5321 §2.3.8:
 *   LF "." LF must not count);
 * - every bare LF and bare CR is written out as CRLF, and a line that starts
 *   after such a rewritten break with "." gets a second ".", so the backend
 *   sees only canonical lines and cannot end the message anywhere else;
 * - a line after a real CRLF keeps the client's dot-stuffing as sent.
 *
 * The input is counted (octets before the end-of-data line) for the size limit.
 */

const CR = 13;
const LF = 10;
const DOT = 46;
const CRLF = Buffer.from('\r\n');
const LF_ONLY = Buffer.from('\n');
const DOT_DOT = Buffer.from('..');
const DOT_DOT_CRLF = Buffer.from('..\r\n');

type State =
  /** At the start of a line that followed a real CRLF (or the start of the body). */
  | 'start'
  /** At the start of a line that followed a rewritten (bare) CR or LF. */
  | 'start-bare'
  /** "." at the start of a line after a real CRLF. */
  | 'dot'
  /** "." CR at the start of a line after a real CRLF. */
  | 'dot-cr'
  | 'line'
  /** A CR inside a line; CRLF or bare CR depends on the next byte. */
  | 'cr';

export interface DataFeed {
  /** Bytes for the backend (canonical CRLF lines, stuffed); the end-of-data line is not included. */
  readonly output: Buffer[];
  /** True when the end-of-data line was read. */
  readonly done: boolean;
  /** Input after the end-of-data line (pipelined commands), when done. */
  readonly rest: Buffer;
}

export class DataStream {
  #state: State = 'start';
  #size = 0;

  /** Octets of the message read so far (the input, end-of-data line excluded). */
  get size(): number {
    return this.#size;
  }

  feed(chunk: Buffer): DataFeed {
    const output: Buffer[] = [];
    // Input bytes that go out unchanged are passed on as one slice per span
    // (a typical chunk is one span: one write to the backend, not one per line).
    let span = 0;
    const flush = (to: number) => {
      if (to > span) output.push(chunk.subarray(span, to));
    };
    const n = chunk.length;
    let i = 0;
    while (i < n) {
      const c = chunk[i];
      switch (this.#state) {
        case 'line': {
          // Fast path: skip to the next CR or LF.
          while (i < n && chunk[i] !== CR && chunk[i] !== LF) i++;
          if (i === n) break;
          if (chunk[i] === CR) {
            this.#state = 'cr';
          } else {
            flush(i);
            output.push(CRLF);
            span = i + 1;
            this.#state = 'start-bare';
          }
          i++;
          break;
        }
        case 'cr': {
          if (c === LF) {
            i++;
            this.#state = 'start';
          } else {
            // A bare CR (already passed on) ends the line: add its LF; this byte starts the next line.
            flush(i);
            output.push(LF_ONLY);
            span = i;
            this.#state = 'start-bare';
          }
          break;
        }
        case 'start':
        case 'start-bare': {
          if (c === DOT) {
            flush(i);
            if (this.#state === 'start') {
              this.#state = 'dot';
            } else {
              output.push(DOT_DOT);
              this.#state = 'line';
            }
            i++;
            span = i;
          } else if (c === CR) {
            i++;
            this.#state = 'cr';
          } else if (c === LF) {
            flush(i);
            output.push(CRLF);
            i++;
            span = i;
            this.#state = 'start-bare';
          } else {
            this.#state = 'line';
          }
          break;
        }
        case 'dot': {
          if (c === CR) {
            i++;
            span = i;
            this.#state = 'dot-cr';
          } else if (c === LF) {
            // "." then a bare LF: a line holding one dot, not the end.
            output.push(DOT_DOT_CRLF);
            i++;
            span = i;
            this.#state = 'start-bare';
          } else if (c === DOT) {
            // The client's stuffing ("..x"): kept as sent.
            output.push(DOT_DOT);
            i++;
            span = i;
            this.#state = 'line';
          } else {
            // ".x": an unstuffed dot, removed as RFC 5321 §4.5.2 says a receiver does.
            span = i;
            this.#state = 'line';
          }
          break;
        }
        case 'dot-cr': {
          if (c === LF) {
            this.#size += i + 1 - 3; // the end-of-data line ".\r\n" is not message content
            return { output, done: true, rest: chunk.subarray(i + 1) };
          }
          // "." then a bare CR: a line holding one dot.
          output.push(DOT_DOT_CRLF);
          span = i;
          this.#state = 'start-bare';
          break;
        }
      }
    }
    // A pending "." (states dot, dot-cr) was not passed on yet; everything else up to here was.
    flush(n);
    this.#size += n;
    return { output, done: false, rest: Buffer.alloc(0) };
  }
}
