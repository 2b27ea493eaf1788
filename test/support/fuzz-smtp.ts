import { connect } from 'node:net';
import type { Random } from './faults-http.ts';

/**
 * Seeded malformed SMTP sessions against the relay (docs/smtp-relay.md) for
 * the fuzzing benchmark (test/bench/fuzz.ts): random and known commands in
 * any order and case, garbage parameters, long lines, NUL and 8-bit bytes,
 * commands a client must not be granted (XCLIENT, AUTH, BDAT, ETRN),
 * recipients in and out of the routed domain, and message bodies with the
 * smuggling shapes (bare LF, bare CR, `\n.\n`, `\r.\r`) before their real end.
 *
 * One command line at a time, each answered before the next (a body only
 * after a 354), so that every reply is known to answer its command. The judge:
 * every reply well formed; no recipient outside the routed domain and no
 * forbidden command ever 2xx (never an open relay); and the messages that
 * reach the home server are exactly those whose end of data got a 2xx (the
 * caller compares the sink's count with `delivered`).
 */

export type SmtpStep =
  | { readonly kind: 'line'; readonly bytes: Buffer }
  | { readonly kind: 'body'; readonly bytes: Buffer };

export interface SmtpSessionOutcome {
  readonly problems: string[];
  /** Messages whose end of data the relay answered with a 2xx. */
  readonly delivered: number;
  readonly commands: number;
  readonly codes: Map<number, number>;
}

export interface SmtpFuzzTarget {
  readonly zone: string;
  /** The one host whose mail the relay forwards (to the sink). */
  readonly routedHost: string;
  /** Hosts without mail forwarding. */
  readonly otherHosts: readonly string[];
}

const FORBIDDEN = /^(XCLIENT|XFORWARD|AUTH|BDAT|ETRN|TURN|ATRN)\b/i;

export function createSmtpFuzzer(target: SmtpFuzzTarget) {
  const routed = `${target.routedHost}.${target.zone}`;
  const garbage = (r: Random, max: number) =>
    Array.from({ length: r.int(0, max) }, () =>
      String.fromCharCode(r.pick([r.int(0x21, 0x7e), r.int(0x80, 0xff), 0x20, 0x00, 0x09])),
    ).join('');
  const domain = (r: Random) =>
    r.pick([
      routed,
      routed,
      routed.toUpperCase(),
      `${routed}.`,
      ...target.otherHosts.map((h) => `${h}.${target.zone}`),
      `nobody.${target.zone}`,
      target.zone,
      `mx.${target.zone}`,
      `${target.routedHost}.mx.${target.zone}`,
      `x.${routed}`,
      'example.test',
      'mail.invalid',
      '[127.0.0.1]',
      '[IPv6:::1]',
      'xn--bcher-kva.test',
      'bücher.test',
      `${routed}@example.test`,
      '',
      garbage(r, 30),
    ]);
  const mailbox = (r: Random) => {
    const local = r.pick([
      'someone',
      'postmaster',
      '"quoted local"',
      'a+b',
      'x'.repeat(r.int(60, 300)),
      garbage(r, 12),
      '',
    ]);
    return r.pick([
      `<${local}@${domain(r)}>`,
      `<@relay.test:${local}@${domain(r)}>`,
      `${local}@${domain(r)}`,
      `<${local}@${domain(r)}`,
      '<>',
      `<${local}%${domain(r)}@${routed}>`,
    ]);
  };
  const mailParams = (r: Random) =>
    r.pick([
      '',
      ' SIZE=10240',
      ' SIZE=999999999999',
      ' BODY=8BITMIME',
      ' BODY=BINARYMIME',
      ' SMTPUTF8',
      ' RET=FULL',
      ` ${garbage(r, 20)}`,
      ' SIZE=-1',
    ]);

  function command(r: Random): string {
    const verb = (s: string) => (r.chance(0.15) ? s.toLowerCase() : s);
    switch (r.int(0, 19)) {
      case 0:
      case 1:
        return `${verb(r.pick(['EHLO', 'HELO']))}${r.pick([' client.fuzz.test', '', ` ${garbage(r, 40)}`, ' [127.0.0.1]', ` ${routed}`])}`;
      case 2:
      case 3:
        return `${verb('MAIL FROM:')}${mailbox(r)}${mailParams(r)}`;
      case 4:
      case 5:
      case 6:
        return `${verb('RCPT TO:')}${mailbox(r)}${r.pick(['', '', ' NOTIFY=NEVER', ` ${garbage(r, 10)}`])}`;
      case 7:
        return verb('DATA');
      case 8:
        return verb(r.pick(['RSET', 'NOOP', 'HELP', 'VRFY someone', 'EXPN list', `NOOP ${garbage(r, 20)}`]));
      case 9:
        return verb('STARTTLS');
      case 10:
        return r.pick([
          'XCLIENT ADDR=203.0.113.9 NAME=spoofed.test',
          'XFORWARD ADDR=203.0.113.9',
          'AUTH PLAIN AGFsaWNlAHNlY3JldA==',
          'AUTH LOGIN',
          'BDAT 10 LAST',
          `ETRN ${routed}`,
        ]);
      case 11:
        return 'x'.repeat(r.int(2000, 5000));
      case 12:
        return garbage(r, 80);
      case 13:
        return `MAIL FROM: ${mailbox(r)}`;
      case 14:
        return `RCPT TO: <someone@${routed}>`;
      case 15:
        return `MAIL FROM:<sender@fuzz.test>${mailParams(r)}`;
      case 16:
      case 17:
        return `RCPT TO:<someone@${r.chance(0.7) ? routed : domain(r)}>`;
      default:
        return r.pick(['DATA', 'RSET', 'QUIT', `EHLO ${garbage(r, 8)}`]);
    }
  }

  function body(r: Random): Buffer {
    const parts: string[] = [];
    if (r.chance(0.7)) parts.push('Subject: fuzz\r\n\r\n');
    for (let i = r.int(0, 8); i > 0; i--) {
      parts.push(
        r.pick([
          'hello\r\n',
          '\n.\n',
          '\r.\r',
          '\n.\r\n',
          '\r\n.\n',
          '..leading dot\r\n',
          '.\rx\r\n',
          'bare LF\nline\n',
          'bare CR\rline\r',
          `${'y'.repeat(r.int(1000, 20_000))}\r\n`,
          `${garbage(r, 200)}\r\n`,
          'MAIL FROM:<smuggled@evil.test>\r\n',
        ]),
      );
    }
    const text = `${parts.join('')}\r\n.\r\n`;
    // Two parts can make a real end of data together (`\r.\r` then `\n.\r\n`): the body ends
    // there, as it does for the relay, and what would follow it is not sent (it would be commands
    // whose replies the judge would take for the later steps').
    const end = `\r\n${text}`.indexOf('\r\n.\r\n');
    return Buffer.from(text.slice(0, end + 3), 'latin1');
  }

  /** A session's script: 3–15 command lines, a body after each DATA, sometimes QUIT. */
  function generate(r: Random): SmtpStep[] {
    const steps: SmtpStep[] = [];
    if (r.chance(0.8)) steps.push({ kind: 'line', bytes: Buffer.from('EHLO client.fuzz.test\r\n') });
    for (let i = r.int(3, 15); i > 0; i--) {
      const line = command(r);
      steps.push({ kind: 'line', bytes: Buffer.from(`${line}\r\n`, 'latin1') });
      if (/^data$/i.test(line)) steps.push({ kind: 'body', bytes: body(r) });
    }
    if (r.chance(0.7)) steps.push({ kind: 'line', bytes: Buffer.from('QUIT\r\n') });
    return steps;
  }

  return { generate };
}

/** The domain of a RCPT TO line's path, lower case, no trailing dot; undefined when it has none. */
function recipientDomain(line: string): string | undefined {
  const rest = line.replace(/^RCPT TO:\s*/i, '');
  let path: string;
  if (rest.startsWith('<')) {
    const end = rest.indexOf('>');
    path = end < 0 ? rest.slice(1) : rest.slice(1, end);
  } else {
    path = rest.split(/\s/)[0] ?? '';
  }
  const at = path.lastIndexOf('@');
  return at < 0
    ? undefined
    : path
        .slice(at + 1)
        .toLowerCase()
        .replace(/\.$/, '');
}

/** Runs one scripted session on the relay at `port` and judges every reply. */
export function runSmtpSession(
  port: number,
  steps: readonly SmtpStep[],
  routedDomain: string,
  timeoutMs = 15_000,
): Promise<SmtpSessionOutcome> {
  return new Promise((resolve) => {
    const problems: string[] = [];
    const codes = new Map<number, number>();
    let delivered = 0;
    let commands = 0;
    let buffer = '';
    let index = -1;
    let lastCode = 0;
    let ended = false;
    let closedByServer = false;
    const socket = connect(port, '127.0.0.1');
    const finish = () => {
      if (ended) return;
      ended = true;
      clearTimeout(timer);
      socket.destroy();
      resolve({ problems, delivered, commands, codes });
    };
    const timer = setTimeout(() => {
      problems.push(`no reply within ${timeoutMs} ms after step ${index}`);
      finish();
    }, timeoutMs);
    const sendNext = () => {
      for (;;) {
        index++;
        const step = steps[index];
        if (!step) {
          finish();
          return;
        }
        // A body only follows a 354; after anything else its DATA was refused, and it is skipped.
        if (step.kind === 'body' && lastCode !== 354) continue;
        if (step.kind === 'line') commands++;
        socket.write(step.bytes);
        return;
      }
    };
    const judge = (code: number, lines: string[]) => {
      codes.set(code, (codes.get(code) ?? 0) + 1);
      const step = index >= 0 ? steps[index] : undefined;
      const sent = step?.kind === 'line' ? step.bytes.toString('latin1').trimEnd() : '';
      const positive = code >= 200 && code < 300;
      if (step?.kind === 'body' && positive) delivered++;
      if (positive && FORBIDDEN.test(sent)) problems.push(`${code} to a client's ${sent.slice(0, 40)}`);
      if (positive && /^RCPT TO:/i.test(sent)) {
        const domain = recipientDomain(sent);
        if (domain !== routedDomain)
          problems.push(
            `${code} to a recipient outside the routed domain: ${sent.slice(0, 120)} → ${lines.join(' | ').slice(0, 120)}`,
          );
      }
    };
    socket.on('data', (chunk: Buffer) => {
      buffer += chunk.toString('latin1');
      for (;;) {
        const lines: string[] = [];
        let rest = buffer;
        let complete = false;
        let code = 0;
        while (rest.includes('\r\n')) {
          const end = rest.indexOf('\r\n');
          const line = rest.slice(0, end);
          rest = rest.slice(end + 2);
          lines.push(line);
          if (!/^[2-5]\d\d[ -]/.test(line) && !/^[2-5]\d\d$/.test(line)) {
            problems.push(`a malformed reply line: ${JSON.stringify(line.slice(0, 80))}`);
            finish();
            return;
          }
          if (line[3] !== '-') {
            complete = true;
            code = Number(line.slice(0, 3));
            break;
          }
        }
        if (!complete) return;
        buffer = rest;
        if (index >= 0 || code !== 220) judge(code, lines);
        lastCode = code;
        if (code === 421 || code === 221) {
          closedByServer = true;
          return; // the server closes now
        }
        sendNext();
      }
    });
    socket.on('error', () => undefined);
    socket.on('close', () => {
      if (!closedByServer && index < steps.length)
        problems.push(`closed without 221 or 421 after step ${index}`);
      finish();
    });
  });
}
