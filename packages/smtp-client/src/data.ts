/**
 * A whole message as the bytes after DATA (RFC 5321 §4.1.1.4, §4.5.2): every
 * line ending CRLF (a bare CR or LF becomes one, so no two parsers can
 * disagree where the message ends: SMTP smuggling), a "." at the start of a
 * line doubled, the end marked by "." on a line of its own. Pure.
 *
 * For messages we compose; a relay passing on a client's already-stuffed
 * body streams it instead (apps/smtp-relay/src/protocol/data-stream.ts).
 */
export function encodeData(message: string | Buffer): Buffer {
  const text = typeof message === 'string' ? Buffer.from(message, 'utf8') : message;
  const out: number[] = [];
  let lineStart = true;
  for (let i = 0; i < text.length; i++) {
    const c = text[i] as number;
    if (c === 13 || c === 10) {
      // CRLF, a bare CR and a bare LF are all one line end.
      if (c === 13 && text[i + 1] === 10) i++;
      out.push(13, 10);
      lineStart = true;
      continue;
    }
    if (lineStart && c === 46) out.push(46);
    out.push(c);
    lineStart = false;
  }
  if (!lineStart) out.push(13, 10);
  out.push(46, 13, 10);
  return Buffer.from(out);
}
