/**
 * A real smarthost for the mail tests: Debian's python3-aiosmtpd, with
 * STARTTLS or TLS from the start (a certificate made here with openssl), AUTH
 * PLAIN/LOGIN required when asked, and each message it takes parsed by
 * Python's own `email` package (an independent reader of what we built) and
 * reported as one JSON line. Listens on 127.0.0.1 only; stop() ends it by PID.
 */
import { join } from 'node:path';
import { freePort } from './ports.ts';
import { requireProgram, runProgram, type StartedProgram, startProgram } from './programs.ts';
import { requireAiosmtpdPython } from './smtp.ts';
import { waitFor } from './wait.ts';

export interface SmarthostOptions {
  /** A fixed port (to start it where a client already looks); a free one by default. */
  port?: number;
  tls?: 'none' | 'starttls' | 'implicit';
  /** Needed for starttls and implicit. */
  certificate?: TestCertificate;
  /** AUTH required with these credentials (after STARTTLS when there is TLS). */
  auth?: { user: string; pass: string; mechanisms?: readonly ('PLAIN' | 'LOGIN')[] };
  /** Recipients answered 550 5.1.1. */
  reject?: readonly string[];
}

export interface SmarthostPart {
  readonly type: string;
  readonly charset: string | null;
  readonly encoding: string | null;
  /** Decoded by Python (quoted-printable undone, charset applied). */
  readonly content: string;
}

export interface SmarthostMessage {
  readonly from: string;
  readonly to: readonly string[];
  readonly tls: boolean;
  readonly authUser: string | null;
  /** Header names lower-cased, values decoded (RFC 2047 words undone). */
  readonly headers: Readonly<Record<string, string>>;
  readonly parts: readonly SmarthostPart[];
  /** What Python's parser found wrong with the message (none, we hope). */
  readonly defects: readonly string[];
  /** The message as received (dot-stuffing removed). */
  readonly raw: string;
}

export interface Smarthost extends StartedProgram {
  readonly port: number;
  messages(): SmarthostMessage[];
  /** AUTH attempts: mechanism and whether the credentials were right. */
  auths(): { mechanism: string; ok: boolean }[];
  waitForMessages(count: number, timeoutMs?: number): Promise<SmarthostMessage[]>;
}

const SCRIPT = `
import base64, email, json, ssl, sys, time
from email import policy
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
cfg = json.loads(sys.argv[1])
def emit(record):
    print(json.dumps(record), flush=True)
class Handler:
    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in cfg.get('reject', []):
            return '550 5.1.1 <%s>: Recipient address rejected: User unknown' % address
        envelope.rcpt_tos.append(address)
        return '250 2.1.5 Ok'
    async def handle_DATA(self, server, session, envelope):
        msg = email.message_from_bytes(envelope.original_content, policy=policy.default)
        parts = []
        for part in msg.walk():
            if part.is_multipart():
                continue
            parts.append({'type': part.get_content_type(), 'charset': part.get_content_charset(),
                          'encoding': part.get('Content-Transfer-Encoding'), 'content': part.get_content()})
        defects = [type(d).__name__ for d in msg.defects]
        for part in msg.walk():
            defects += [type(d).__name__ for d in part.defects]
        user = session.auth_data if isinstance(session.auth_data, str) else None
        emit({'event': 'MESSAGE', 'from': envelope.mail_from, 'to': envelope.rcpt_tos,
              'tls': server.transport.get_extra_info('ssl_object') is not None, 'authUser': user,
              'headers': {k.lower(): str(v) for k, v in msg.items()}, 'parts': parts, 'defects': defects,
              'raw': base64.b64encode(envelope.original_content).decode()})
        return '250 2.0.0 Ok: queued'
def authenticator(server, session, envelope, mechanism, auth_data):
    auth = cfg['auth']
    ok = (isinstance(auth_data, LoginPassword) and auth_data.login.decode() == auth['user']
          and auth_data.password.decode() == auth['pass'])
    emit({'event': 'AUTH', 'mechanism': mechanism, 'ok': ok})
    if not ok:
        return AuthResult(success=False, handled=False)
    return AuthResult(success=True, auth_data=auth['user'])
context = None
if cfg['tls'] != 'none':
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cfg['cert'], cfg['key'])
kwargs = {}
if cfg['tls'] == 'starttls':
    kwargs.update(tls_context=context, require_starttls=True)
if cfg.get('auth'):
    excluded = [m for m in ('PLAIN', 'LOGIN') if m not in cfg['auth']['mechanisms']]
    # aiosmtpd 1.4 counts only STARTTLS as TLS: on an smtps listener it would hide AUTH.
    kwargs.update(authenticator=authenticator, auth_required=True,
                  auth_require_tls=cfg['tls'] == 'starttls', auth_exclude_mechanism=excluded)
if cfg['tls'] == 'implicit':
    kwargs.update(ssl_context=context)
controller = Controller(Handler(), hostname='127.0.0.1', port=cfg['port'], server_hostname='smarthost.test', **kwargs)
controller.start()
emit({'event': 'READY'})
while True:
    time.sleep(3600)
`;

export async function startSmarthost(options: SmarthostOptions = {}): Promise<Smarthost> {
  const python = requireAiosmtpdPython();
  const port = options.port ?? (await freePort());
  const tls = options.tls ?? 'none';
  if (tls !== 'none' && !options.certificate) throw new Error('a TLS smarthost needs a certificate');
  const config = {
    port,
    tls,
    cert: options.certificate?.certFile,
    key: options.certificate?.keyFile,
    reject: options.reject ?? [],
    auth: options.auth
      ? { ...options.auth, mechanisms: options.auth.mechanisms ?? ['PLAIN', 'LOGIN'] }
      : null,
  };
  const child = startProgram(python, ['-c', SCRIPT, JSON.stringify(config)]);
  try {
    await waitFor(() => child.output().includes('"READY"'), {
      timeoutMs: 15_000,
      intervalMs: 50,
      message: 'aiosmtpd to start as a smarthost',
      giveUp: () => (child.hasExited() ? 'it exited' : undefined),
    });
  } catch (error) {
    await child.stop();
    throw new Error(`${(error as Error).message}:\n${child.output()}`);
  }
  const events = () =>
    child
      .output()
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as { event: string } & Record<string, unknown>);
  const messages = () =>
    events()
      .filter((e) => e.event === 'MESSAGE')
      .map((e) => ({
        ...(e as unknown as SmarthostMessage),
        raw: Buffer.from(String(e.raw), 'base64').toString('utf8'),
      }));
  return {
    ...child,
    port,
    messages,
    auths: () =>
      events()
        .filter((e) => e.event === 'AUTH')
        .map((e) => ({ mechanism: String(e.mechanism), ok: e.ok === true })),
    async waitForMessages(count, timeoutMs = 20_000) {
      await waitFor(() => messages().length >= count, {
        timeoutMs,
        intervalMs: 50,
        message: () => `${count} messages at the smarthost (it has ${messages().length}):
${child.output()}`,
      });
      return messages();
    },
  };
}

export interface TestCertificate {
  readonly certFile: string;
  readonly keyFile: string;
}

/** A self-signed certificate for `localhost` and 127.0.0.1, made with openssl in `dir`. */
export async function makeSelfSignedCertificate(dir: string): Promise<TestCertificate> {
  const openssl = requireProgram('openssl', 'openssl');
  const certFile = join(dir, 'smarthost-cert.pem');
  const keyFile = join(dir, 'smarthost-key.pem');
  await runProgram(
    openssl,
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-keyout',
      keyFile,
      '-out',
      certFile,
      '-days',
      '2',
      '-subj',
      '/CN=localhost',
      '-addext',
      'subjectAltName=DNS:localhost,IP:127.0.0.1',
    ],
    { mustSucceed: true },
  );
  return { certFile, keyFile };
}
