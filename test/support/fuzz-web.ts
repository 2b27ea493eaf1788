import type { Random, RawOutcome } from './faults-http.ts';
import type { FuzzTarget, Generated } from './fuzz-requests.ts';

/**
 * Seeded malformed requests to the owner's web forms (docs/interfaces.md, "Web
 * pages") for the fuzzing benchmark (test/bench/fuzz.ts): registration,
 * sign-in, sign-out and every dashboard form, with garbage fields, garbage,
 * duplicated and real cookies, cross-site headers and odd bodies.
 *
 * Every one of them must be refused: a real anonymous CSRF pair only goes
 * with a registration of a name that is taken or cannot be registered, or a
 * sign-in with a wrong password; a real signed-in session only with a wrong
 * CSRF value. So any change to Postgres or PowerDNS is a bug.
 */

export interface WebCredentials {
  /** Pre-sign-in CSRF pairs: the `mydns_csrf` cookie and the form's `_csrf` value. */
  readonly anonymous: readonly { readonly cookie: string; readonly csrf: string }[];
  /** A signed-in session's `Cookie` header (its CSRF value is never sent). */
  readonly session: string;
}

const DASHBOARD_FORMS = [
  '/dashboard/setups',
  '/dashboard/tokens',
  '/dashboard/tokens/1/revoke',
  '/dashboard/tokens/x/revoke',
  '/dashboard/mail',
  '/dashboard/settings/password',
  '/dashboard/settings/delete',
];
const FIELDS = [
  '_csrf',
  'hostname',
  'password',
  'confirm',
  'current',
  'email',
  'zone',
  'label',
  'enabled',
  'port',
  'clientAddress',
  'tls',
  'fingerprint',
];

export function createWebFuzzer(target: FuzzTarget, credentials: WebCredentials) {
  const { zone, hosts, password } = target;
  const junk = (r: Random, max: number) =>
    r.pick([
      () => '',
      () => 'x'.repeat(r.int(1, max)),
      () => r.bytes(r.int(1, 24)).toString('latin1'),
      () => r.pick(['%', '%zz', '%00', '%c0%af', '+', '&', '=', '%e2%82']),
      () => r.pick(['on', 'yes', 'no', '0', '-1', '65536', '25', 'xclient', 'proxy-v2', 'verify', 'none']),
      () => r.pick(['AA:BB', 'a'.repeat(64), '::1', '127.0.0.1', `${zone}`, 'é', '<script>']),
    ])();
  /** Names that can never register here: taken (in any spelling) or invalid. */
  const unregistrable = (r: Random) =>
    r.pick([
      ...hosts,
      ...hosts.map((h) => h.toUpperCase()),
      ...hosts.map((h) => `${h}.${zone}`),
      'a..b',
      '-bad',
      'bad-',
      '',
      'a'.repeat(64),
      '*',
      'x y',
      '.',
    ]);
  const wrongPassword = (r: Random) =>
    r.pick(['', 'wrong', password.slice(0, -1), `${password}x`, junk(r, 80)]);

  function encodeForm(r: Random, pairs: [string, string][]): string {
    return pairs
      .map(([key, value]) => {
        const raw = r.chance(0.1);
        const enc = (s: string) => (raw ? s : encodeURIComponent(s.replace(/[\ud800-\udfff]/g, '')));
        return r.chance(0.05) ? enc(key) : `${enc(key)}=${enc(value)}`;
      })
      .join('&');
  }

  function generate(r: Random): Generated {
    const anonymous = r.pick(credentials.anonymous);
    const cookies: string[] = [];
    const pairs: [string, string][] = [];
    let path: string;
    let method = r.chance(0.85) ? 'POST' : r.pick(['GET', 'HEAD', 'PUT', 'DELETE', 'OPTIONS']);
    const kind = r.int(0, 9);
    if (kind <= 2) {
      path = '/register';
      const realCsrf = r.chance(0.5);
      if (realCsrf) {
        cookies.push(anonymous.cookie);
        pairs.push(['_csrf', anonymous.csrf]);
      } else if (r.chance(0.5)) pairs.push(['_csrf', junk(r, 100)]);
      const secret = r.chance(0.5) ? 'a-long-enough-password-1' : junk(r, 300);
      pairs.push(['hostname', unregistrable(r)], ['password', secret]);
      pairs.push(['confirm', r.chance(0.7) ? secret : junk(r, 20)]);
      if (r.chance(0.5)) pairs.push(['email', junk(r, 300)]);
      if (r.chance(0.5)) pairs.push(['zone', r.pick([zone, `${zone}.`, 'example.com', junk(r, 40)])]);
    } else if (kind <= 5) {
      path = '/login';
      if (r.chance(0.6)) {
        cookies.push(anonymous.cookie);
        pairs.push(['_csrf', anonymous.csrf]);
      } else if (r.chance(0.5)) pairs.push(['_csrf', junk(r, 100)]);
      pairs.push(['hostname', r.pick([...hosts, 'nobody', junk(r, 300)])], ['password', wrongPassword(r)]);
    } else {
      path = r.pick([...DASHBOARD_FORMS, '/logout']);
      if (r.chance(0.6)) cookies.push(credentials.session);
      // Never the session's own CSRF value: every such form must be refused.
      if (r.chance(0.7)) pairs.push(['_csrf', r.chance(0.3) ? anonymous.csrf : junk(r, 100)]);
      for (let i = r.int(0, 5); i > 0; i--) pairs.push([r.pick(FIELDS), junk(r, 200)]);
    }
    if (r.chance(0.1)) cookies.push(r.pick(['mydns_session=garbage', 'mydns_csrf=x.y', junk(r, 40)]));
    if (r.chance(0.05)) cookies.push(...cookies); // duplicated (a tossed cookie)
    if (r.chance(0.2)) pairs.push([junk(r, 10), junk(r, 50)]);
    if (r.chance(0.03)) for (let i = 0; i < 60; i++) pairs.push([`k${i}`, 'v']); // past the parameter limit
    let body: Buffer = Buffer.from(encodeForm(r, pairs), 'latin1');
    if (r.chance(0.05)) body = Buffer.concat([body, Buffer.from(`&pad=${'x'.repeat(17_000)}`)]);
    if (r.chance(0.05)) body = r.bytes(r.int(1, 300));
    const headers = ['Host: 127.0.0.1'];
    if (cookies.length > 0) headers.push(`Cookie: ${cookies.join('; ')}`);
    headers.push(
      `Content-Type: ${r.pick([
        'application/x-www-form-urlencoded',
        'application/x-www-form-urlencoded; charset=utf-8',
        'application/x-www-form-urlencoded; charset=bogus',
        'application/json',
        'multipart/form-data; boundary=x',
        'text/plain',
      ])}`,
    );
    if (r.chance(0.1))
      headers.push(`Origin: ${r.pick(['http://127.0.0.1', `http://alice.${zone}`, 'null'])}`);
    if (r.chance(0.1)) headers.push(`Sec-Fetch-Site: ${r.pick(['same-origin', 'same-site', 'cross-site'])}`);
    if (r.chance(0.05)) headers.push('Content-Encoding: gzip');
    if (method === 'GET' || method === 'HEAD') {
      if (r.chance(0.5)) body = Buffer.alloc(0);
    }
    if (r.chance(0.05)) method = method.toLowerCase();
    headers.push(`Content-Length: ${body.length}`, 'Connection: close');
    const head = Buffer.from(`${method} ${path} HTTP/1.1\r\n${headers.join('\r\n')}\r\n\r\n`, 'latin1');
    return { method, path, bytes: Buffer.concat([head, body]), valid: false };
  }

  const STACK =
    /\bat [^\n]*\(?[^\s()]+:\d+:\d+\)?|node_modules|\bTypeError\b|\bSyntaxError\b|\bReferenceError\b/;

  /** Problems with a web form's reply: a 5xx (but a deliberate 503), a stack trace, a success. */
  function judge(request: Generated, outcome: RawOutcome): string[] {
    const reply = outcome.reply;
    if (!reply) return [`no whole reply (${outcome.error ?? (outcome.closed ? 'closed' : 'timeout')})`];
    const problems: string[] = [];
    const body = reply.body.toString('utf8');
    if (reply.status >= 500 && reply.status !== 503) problems.push(`HTTP ${reply.status}`);
    if (STACK.test(body)) problems.push(`a stack trace: ${body.slice(0, 120)}`);
    if (reply.headers.has('x-powered-by')) problems.push('X-Powered-By');
    const location = reply.headers.get('location') ?? '';
    if (request.method === 'POST' && /welcome|notice=/.test(location))
      problems.push(`a form that should be refused succeeded: ${reply.status} → ${location}`);
    return problems;
  }

  return { generate, judge };
}
