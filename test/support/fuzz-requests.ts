import { parseIpAddress } from '@mydns/domain';
import { type Random, type RawOutcome, WEBDAV_AND_OTHER_METHODS } from './faults-http.ts';
import { basic } from './mydns.ts';

/**
 * The seeded HTTP fuzzer of test/integration/fuzz.test.ts (3,000 requests in
 * `npm test`) and of the fuzzing benchmark (test/bench/fuzz.ts, 100,000):
 * malformed requests to the update endpoints, /checkip and the JSON API
 * (random and known parameters, random encodings, percent garbage, huge
 * values up to and past the server's limits, invalid UTF-8, odd methods,
 * missing and garbage Authorization, garbage bodies), and the judge of each
 * reply. A share of requests carry a host's real credentials with an address
 * that cannot parse, whose one correct answer is `dnserr`.
 */

export interface FuzzTarget {
  readonly zone: string;
  /** Hosts that exist, all with `password`. */
  readonly hosts: readonly string[];
  readonly password: string;
}

export interface Generated {
  readonly method: string;
  readonly path: string;
  readonly bytes: Buffer;
  /** Carries a host's real credentials (with an address that cannot parse): the answer must be `dnserr`. */
  readonly valid: boolean;
}

export interface HttpFuzzer {
  generate(r: Random): Generated;
  /** What is wrong with the reply to `request`: nothing, or the problems. */
  judge(request: Generated, outcome: RawOutcome): string[];
}

export function createHttpFuzzer(target: FuzzTarget): HttpFuzzer {
  const { zone, hosts: HOSTS, password: PASSWORD } = target;

  const UPDATE_PATHS = ['/nic/update', '/v3/update', '/update', '/u.php'];
  const KEYS = [
    'hostname',
    'host',
    'domain',
    'h',
    'username',
    'user',
    'password',
    'pass',
    'pwd',
    'p',
    'token',
    'myip',
    'ip',
    'myipv4',
    'myipv6',
    'myip6',
    'ipv6',
    'offline',
    'system',
    'wildcard',
    'mx',
    'backmx',
  ];
  const PERCENT_GARBAGE = [
    '%',
    '%z',
    '%%',
    '%ff',
    '%FE',
    '%c0%af',
    '%00',
    '%e2%82',
    '%0d%0a',
    '%2c',
    '%3d',
    '%26',
    '%2',
    '%u0041',
  ];
  // The odd methods of hardening.test.ts, plus lower case and CONNECT.
  const ODD_METHODS = [...WEBDAV_AND_OTHER_METHODS, 'FOO', 'get', 'CONNECT'];

  function text(r: Random, min: number, max: number): string {
    const alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-_:,=&+/~!$'()*;@[]";
    return Array.from({ length: r.int(min, max) }, () => r.pick([...alphabet])).join('');
  }

  function hostname(r: Random): string {
    const name = r.pick([...HOSTS, 'nobody', 'x', 'a..b', '-bad', 'bad-', 'é', 'a'.repeat(64), '*', '']);
    return r.pick([
      name,
      name.toUpperCase(),
      `${name}.${zone}`,
      `${name}.${zone}.`,
      `${name}.example.com`,
      Array.from({ length: r.int(2, 30) }, () => r.pick(HOSTS)).join(','),
      `${name},${text(r, 1, 10)}`,
    ]);
  }

  function value(r: Random): string {
    switch (r.int(0, 9)) {
      case 0:
        return '';
      case 1:
        return text(r, 1, 40);
      case 2:
        return Array.from({ length: r.int(1, 6) }, () => r.pick(PERCENT_GARBAGE)).join(
          r.pick(['', 'a', '1']),
        );
      case 3:
        return r.pick([
          '203.0.113.7',
          '10.1.2.3',
          '2001:db8::1',
          '::ffff:1.2.3.4',
          '999.1.1.1',
          '1.2.3',
          '1.2.3.4/99',
          '2001:db8::1/56',
          '::',
          '0.0.0.0',
          '255.255.255.255',
          '1.2.3.4,5.6.7.8',
          '1.2.3.4,2001:db8::2,::1',
          'preserve',
          'YES',
        ]);
      case 4:
        return hostname(r);
      case 5:
        return 'x'.repeat(r.int(1000, 17_000)); // past the 16 kB header limit now and then
      case 6:
        return r.bytes(r.int(1, 8)).toString('latin1'); // raw bytes, invalid UTF-8 most of the time
      default:
        return text(r, 0, 12);
    }
  }

  /** Percent-encodes `s` one of several ways, some of them wrong. */
  function encode(r: Random, s: string): string {
    switch (r.int(0, 5)) {
      case 0:
        return s; // raw: spaces, '&', '#', bytes ≥ 0x80 as they are
      case 1:
        return s.replace(/ /g, '+');
      case 2:
        return encodeURIComponent(s).replace(/%[0-9A-F]{2}/g, (x) => x.toLowerCase());
      default:
        try {
          return encodeURIComponent(s);
        } catch {
          return escape(s); // lone surrogates
        }
    }
  }

  function queryString(r: Random): string {
    const pairs: string[] = [];
    for (let i = r.int(0, 8); i > 0; i--) {
      const key = r.chance(0.8) ? r.pick(KEYS) : text(r, 1, 10);
      if (r.chance(0.1))
        pairs.push(encode(r, key)); // a bare key
      else pairs.push(`${encode(r, r.chance(0.1) ? key.toUpperCase() : key)}=${encode(r, value(r))}`);
    }
    if (r.chance(0.1)) pairs.push(r.pick(['&', '=', '==', '&&&', '#frag', '?']));
    return pairs.join('&');
  }

  function authorization(r: Random): string | undefined {
    const user = r.pick([...HOSTS, ...HOSTS.map((h) => `${h}.${zone}`), 'nobody', '', text(r, 1, 20)]);
    const secret = r.pick([
      '',
      'wrong',
      PASSWORD.slice(0, -1),
      `${PASSWORD}x`,
      text(r, 1, 80),
      'mydns_notatoken',
    ]);
    switch (r.int(0, 9)) {
      case 0:
      case 1:
      case 2:
        return undefined;
      case 3:
        return `Basic ${Buffer.from(`${user}:${secret}`).toString('base64')}`;
      case 4:
        return `Basic ${r.bytes(r.int(1, 60)).toString('base64')}`;
      case 5:
        return r.pick([
          'Basic',
          'Basic ',
          'Basic !!!',
          'basic ====',
          'Bearer x.y.z',
          'Digest username="alice"',
          'NTLM TlRMTVNTUAAB',
        ]);
      case 6:
        return `Basic ${Buffer.from(`${user}:${'p'.repeat(r.int(100, 12_000))}`).toString('base64')}`;
      case 7:
        return `Basic ${Buffer.from(user).toString('base64')}`; // no colon
      default:
        return `Basic ${Buffer.from(`${user}:${secret}`).toString('base64')}`;
    }
  }

  function path(r: Random): string {
    const name = encode(r, r.pick([...HOSTS, 'nobody', text(r, 1, 10)]));
    const base = r.pick([
      ...UPDATE_PATHS,
      ...UPDATE_PATHS,
      '/checkip',
      '/api/v1/hosts',
      `/api/v1/hosts/${name}`,
      `/api/v1/hosts/${name}/tokens`,
      `/api/v1/hosts/${name}/tokens/${encode(r, value(r))}`,
      `/api/v1/hosts/${name}/history`,
      `/api/v1/hosts/${name}/acme-challenge`,
      `/api/v1/hosts/${name}/acme-challenge/${encode(r, value(r))}`,
    ]);
    switch (r.int(0, 9)) {
      case 0:
        return `${base}/`;
      case 1:
        return base.replace(/\//g, '//');
      case 2:
        return base.toUpperCase();
      case 3:
        return `${base}${r.pick(PERCENT_GARBAGE)}`;
      case 4:
        return `${base};jsessionid=${text(r, 1, 8)}`;
      default:
        return base;
    }
  }

  function generate(r: Random): Generated {
    if (r.chance(0.08)) return generateValid(r);
    const target = path(r);
    const method = r.chance(0.6)
      ? 'GET'
      : r.chance(0.5)
        ? 'POST'
        : r.chance(0.2)
          ? 'HEAD'
          : r.pick(ODD_METHODS);
    const query = r.chance(0.85) ? queryString(r) : '';
    const headers: string[] = [];
    if (r.chance(0.9)) headers.push('Host: 127.0.0.1');
    const auth = authorization(r);
    if (auth !== undefined) headers.push(`Authorization: ${auth}`);
    if (r.chance(0.2)) headers.push(`User-Agent: ${r.chance(0.5) ? value(r) : text(r, 1, 40)}`);
    if (r.chance(0.15)) headers.push(`X-Forwarded-For: ${r.pick(['1.2.3.4', 'unknown', '', value(r)])}`);
    if (r.chance(0.2))
      headers.push(
        `Accept: ${r.pick(['text/html', '*/*', 'application/json', 'text/plain', text(r, 1, 20)])}`,
      );
    let body: Buffer = Buffer.alloc(0);
    if (method === 'POST' || (method !== 'GET' && r.chance(0.3))) {
      const contentType = r.pick([
        'application/x-www-form-urlencoded',
        'application/x-www-form-urlencoded; charset=latin1',
        'application/x-www-form-urlencoded; charset=bogus',
        'application/json',
        'application/json; charset=utf-16',
        'text/plain',
        'multipart/form-data; boundary=x',
        '',
      ]);
      if (contentType) headers.push(`Content-Type: ${contentType}`);
      body = r.pick([
        () => Buffer.from(queryString(r), 'latin1'),
        () =>
          Buffer.from(
            `{"hostname":${JSON.stringify(hostname(r))},"password":"${text(r, 0, 7).replace(/"/g, '')}"}`,
          ),
        () =>
          Buffer.from(
            r.pick([
              '{',
              '{"a":',
              '[1,',
              '{"__proto__":{"x":1}}',
              'null',
              '"str"',
              '1e99999',
              '{"password":123}',
            ]),
          ),
        () => r.bytes(r.int(1, 200)),
        () => Buffer.from('x'.repeat(r.int(7000, 17_000))),
      ])();
      if (r.chance(0.1)) headers.push('Content-Encoding: gzip');
      if (r.chance(0.15)) {
        headers.push('Transfer-Encoding: chunked');
        body = Buffer.concat([
          Buffer.from(`${body.length.toString(16)}\r\n`),
          body,
          Buffer.from('\r\n0\r\n\r\n'),
        ]);
      } else {
        headers.push(`Content-Length: ${body.length}`);
      }
    }
    headers.push('Connection: close');
    const requestLine = `${method} ${target}${query ? `?${query}` : ''} ${r.chance(0.95) ? 'HTTP/1.1' : 'HTTP/1.0'}`;
    const head = Buffer.from(`${requestLine}\r\n${headers.join('\r\n')}\r\n\r\n`, 'latin1');
    return { method, path: target, bytes: Buffer.concat([head, body]), valid: false };
  }

  /** A garbage address (at least one item that cannot parse), so that a real credential changes nothing. */
  function unparsableAddress(r: Random): string {
    for (;;) {
      const items = Array.from({ length: r.int(1, 3) }, () =>
        r.pick([
          'q',
          '1.2.3',
          '999.1.1.1',
          '::g',
          'localhost',
          '1.2.3.4.5',
          '2001:db8:::1',
          text(r, 1, 12),
          '203.0.113.9',
        ]),
      );
      const candidate = items.join(',');
      // Judged as the server splits it: a text item may hold a comma itself (`,` is two empty items).
      const unparsable = candidate.split(',').some((item) => item.trim() !== '' && !parseIpAddress(item));
      if (unparsable && candidate.trim() !== '' && candidate.trim().toLowerCase() !== 'preserve')
        return candidate;
    }
  }

  function generateValid(r: Random): Generated {
    const host = r.pick(HOSTS);
    const address = unparsableAddress(r);
    const key = r.pick(['myip', 'ip', 'myipv4', 'myipv6']);
    const junk = r.chance(0.5) ? `&${encode(r, text(r, 1, 8))}=${encode(r, text(r, 0, 8))}` : '';
    if (r.chance(0.5)) {
      const target = r.pick(['/nic/update', '/v3/update', '/update']);
      const query = `hostname=${r.pick([host, `${host}.${zone}`])}&${key}=${encodeURIComponent(address)}${junk}`;
      const head = `GET ${target}?${query} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: ${basic(host, PASSWORD)}\r\nConnection: close\r\n\r\n`;
      return { method: 'GET', path: target, bytes: Buffer.from(head), valid: true };
    }
    const query = `hostname=${host}&password=${encodeURIComponent(PASSWORD)}&${key}=${encodeURIComponent(address)}${junk}`;
    return {
      method: 'GET',
      path: '/u.php',
      bytes: Buffer.from(`GET /u.php?${query} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`),
      valid: true,
    };
  }

  const STACK =
    /\bat [^\n]*\(?[^\s()]+:\d+:\d+\)?|node_modules|\bTypeError\b|\bSyntaxError\b|\bReferenceError\b/;
  const ACCOUNT_CODES = new Set(['badauth', 'numhost', 'abuse', 'badagent']);
  const HOST_CODES = new Set(['notfqdn', 'nohost', 'abuse', 'dnserr']);

  function judge(request: Generated, outcome: RawOutcome): string[] {
    const reply = outcome.reply;
    if (!reply) {
      // Only a CONNECT may be dropped without a word (this is no proxy); anything else must be answered.
      if (request.method === 'CONNECT' && outcome.closed && outcome.bytes.length === 0) return [];
      return [
        `no whole reply (${outcome.error ?? (outcome.closed ? 'closed' : 'timeout')}, ${outcome.bytes.length} bytes)`,
      ];
    }
    const problems: string[] = [];
    const body = reply.body.toString('utf8');
    const type = reply.headers.get('content-type') ?? '';
    if (reply.headers.has('x-powered-by')) problems.push('X-Powered-By');
    if (reply.status >= 500 && !(reply.status === 500 && body === '911') && reply.status !== 503) {
      problems.push(`HTTP ${reply.status}`);
    }
    if (/html/i.test(type) || /<!doctype|<html/i.test(body)) problems.push(`an HTML page (${type})`);
    if (STACK.test(body)) problems.push(`a stack trace: ${body.slice(0, 120)}`);
    const lower = request.path.toLowerCase().replace(/\/+/g, '/');
    const update = UPDATE_PATHS.some((p) => lower === p || lower === `${p}/`);
    if (request.valid) {
      if (reply.status !== 200 || body !== 'dnserr')
        problems.push(`real credentials, an unparsable address: ${reply.status} ${body}`);
      return problems;
    }
    if (/\b(good|nochg)\b/.test(body)) problems.push(`a success without a password: ${body.slice(0, 80)}`);
    if (update && ['GET', 'POST'].includes(request.method) && reply.status === 200) {
      const lines = body.split('\n');
      const fine =
        lines.length === 1
          ? ACCOUNT_CODES.has(body) || HOST_CODES.has(body)
          : lines.every((l) => HOST_CODES.has(l));
      if (!fine) problems.push(`a 200 that is not a protocol answer: ${body.slice(0, 80)}`);
    }
    if (update && reply.status === 401 && body !== (request.method === 'HEAD' ? '' : 'badauth'))
      problems.push(`401 with ${body.slice(0, 80)}`);
    if (
      lower.startsWith('/api/') &&
      reply.status >= 200 &&
      reply.status < 300 &&
      request.method !== 'OPTIONS'
    ) {
      problems.push(`a ${reply.status} from the JSON API without a password`);
    }
    return problems;
  }

  return { generate, judge };
}

export function show(bytes: Buffer): string {
  const text = bytes.toString('latin1');
  const shown = text.length > 260 ? `${text.slice(0, 200)}…(${text.length} bytes)…${text.slice(-40)}` : text;
  return JSON.stringify(shown);
}
