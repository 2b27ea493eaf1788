import type { HostView } from '../../hosts/hosts-service.ts';
import { csrfField, type FormState, fieldAttributes, fieldProblem, formMessage } from '../form-view.ts';
import { html, type SafeHtml } from '../html.ts';
import { dashboardFrame } from './frame.ts';

export interface MailData {
  /** Where the host's pages are: '' (/dashboard…) or an account's /account/hosts/<hostname>. */
  readonly base?: string;
  readonly host: HostView;
  readonly csrf: string;
  readonly zone: string;
  /** The MX record PowerDNS serves for the host, as a zone-file line, if any. */
  readonly publishedMx: string | undefined;
  /** Where the relay connects from (MYDNS_RELAY_ADDRESS); empty when the operator has not said. */
  readonly relayAddresses: readonly string[];
  readonly form?: FormState;
}

const CLIENT_ADDRESS = {
  xclient: 'XCLIENT (Postfix)',
  'proxy-v2': 'PROXY protocol v2 (Postfix, Exim, Dovecot)',
  none: 'not at all',
} as const;

const TLS = {
  opportunistic: 'when offered (self-signed is fine)',
  fingerprint: 'pinned certificate fingerprint',
  verify: 'verified certificate',
  none: 'never',
} as const;

function status(data: MailData): SafeHtml {
  const { host } = data;
  if (data.publishedMx) {
    return html`<p class="alert ok">Forwarding is on. Published in DNS:<br><code class="record" data-testid="mx-record">${data.publishedMx}</code></p>`;
  }
  if (host.mail.enabled) {
    return html`<p class="alert warn">Forwarding is on, but no MX record is published while the hostname is ${host.status}: ${
      host.status === 'dormant' ? 'its next update brings it back.' : 'ask the operator.'
    }</p>`;
  }
  return html`<p class="alert">Forwarding is off: no MX record is published for <code>${host.hostname}</code>.</p>`;
}

/** Postfix wants IPv6 addresses of a host list in brackets. */
const postfixList = (addresses: readonly string[]) =>
  addresses.length === 0
    ? '<relay addresses>'
    : addresses.map((a) => (a.includes(':') ? `[${a}]` : a)).join(', ');

function backendSteps(data: MailData, port: string): SafeHtml {
  const mode = data.host.mail.clientAddress;
  const relays = postfixList(data.relayAddresses);
  if (mode === 'xclient') {
    return html`<p>With XCLIENT, Postfix learns each sender's real address from the relay, on a port of its own that trusts only the relay:</p>
<pre><code>postconf -M '${port}/inet=${port} inet n - y - - smtpd'
postconf -P '${port}/inet/smtpd_authorized_xclient_hosts=${relays}'
postfix reload</code></pre>
<p class="help">Never put the relay into <code>mynetworks</code>: relaying is then judged on the real sender.</p>`;
  }
  if (mode === 'proxy-v2') {
    return html`<p>With the PROXY protocol, the relay announces each sender's address in a header. Only on a port nobody but the
relay can reach (firewall it to ${relays}), since anyone else could claim any address there.</p>
<pre><code># Postfix 3.5 or later
postconf -M '${port}/inet=${port} inet n - y - - smtpd'
postconf -P '${port}/inet/smtpd_upstream_proxy_protocol=haproxy'
postfix reload
# Exim (built with SUPPORT_PROXY), in the main configuration
hosts_proxy = ${relays.replace(/, /g, ' : ')}</code></pre>`;
  }
  return html`<p>Your server sees the relay's address (${relays}) as the sender's, so SPF checks there see the relay; choose XCLIENT or the PROXY protocol if your server can.</p>`;
}

export function mailPage(data: MailData): SafeHtml {
  const base = data.base ?? '';
  const { host, form } = data;
  const values = form?.values;
  const mail = host.mail;
  const enabled = values ? values.enabled === 'on' : mail.enabled;
  const port = values?.port ?? (mail.port === null ? '' : String(mail.port));
  const clientAddress = values?.clientAddress ?? mail.clientAddress;
  const tls = values?.tls ?? mail.tls;
  const fingerprint = values?.fingerprint ?? mail.fingerprint ?? '';
  const shownPort = mail.port === null ? '2525' : String(mail.port);
  const mx = `${host.name}.mx.${data.zone}`;
  return dashboardFrame(
    host.hostname,
    'mail',
    'Mail forwarding',
    html`<p>If your provider blocks port 25, MyDNS can accept mail for <code>${host.hostname}</code> and pass each
connection on to your mail server at your current address, on a port you choose. No mail is stored: if your server
is down, senders get a temporary error and try again later.</p>
${status(data)}
<section class="card" id="mail-settings" aria-labelledby="mail-form-title">
  <h2 id="mail-form-title">Settings</h2>
  <form method="post" action="${base}/dashboard/mail#mail-settings">
    ${formMessage(form)}
    ${csrfField(data.csrf)}
    <label class="check"><input type="checkbox" id="mail-enabled" name="enabled" value="on" ${enabled ? html`checked` : ''}> Forward mail for ${host.hostname}</label>
    <label for="mail-port">Port of your mail server</label>
    <input id="mail-port" name="port" inputmode="numeric" value="${port}" placeholder="e.g. 2525"${fieldAttributes(form, 'mail-port', 'mail-port-help')}>
    ${fieldProblem(form, 'mail-port')}
    <p class="help" id="mail-port-help">25, 465, 587, or a port from 1024 up (not a well-known database port).</p>
    <label for="mail-client">How your server learns the sender's address</label>
    <select id="mail-client" name="clientAddress"${fieldAttributes(form, 'mail-client')}>
      ${Object.entries(CLIENT_ADDRESS).map(
        ([mode, label]) =>
          html`<option value="${mode}" ${clientAddress === mode ? html`selected` : ''}>${label}</option>`,
      )}
    </select>
    ${fieldProblem(form, 'mail-client')}
    <label for="mail-tls">TLS from the relay to your server</label>
    <select id="mail-tls" name="tls"${fieldAttributes(form, 'mail-tls')}>
      ${Object.entries(TLS).map(
        ([mode, label]) =>
          html`<option value="${mode}" ${tls === mode ? html`selected` : ''}>${label}</option>`,
      )}
    </select>
    ${fieldProblem(form, 'mail-tls')}
    <label for="mail-fingerprint">Certificate SHA-256 <span class="optional">(for a pinned certificate)</span></label>
    <input id="mail-fingerprint" name="fingerprint" value="${fingerprint}" spellcheck="false" autocomplete="off"${fieldAttributes(form, 'mail-fingerprint', 'mail-fingerprint-help')}>
    ${fieldProblem(form, 'mail-fingerprint')}
    <p class="help" id="mail-fingerprint-help"><code>openssl x509 -in cert.pem -noout -fingerprint -sha256</code></p>
    <button type="submit">Save mail settings</button>
  </form>
</section>
<section class="card" aria-labelledby="mail-next-title">
  <h2 id="mail-next-title">What to do next</h2>
  <ol class="steps">
    <li><h3>Open the port</h3>
      <p>The relay connects to your current address (${host.ipv4 ?? host.ipv6 ?? 'none yet: it comes with your first update'})
      on port ${shownPort}. On your router, forward TCP port ${shownPort} to your mail server${
        data.relayAddresses.length > 0
          ? html`, and let in the relay's addresses: <code>${data.relayAddresses.join(', ')}</code>`
          : ''
      }.</p></li>
    <li><h3>Set up your mail server</h3>
      ${backendSteps(data, shownPort)}
      <p>It must also take mail for <code>${host.hostname}</code> (in Postfix: add it to <code>mydestination</code>).</p></li>
    <li><h3>Test it</h3>
      <p>From the mail server itself, the backend alone:</p>
      <pre><code>swaks --server 127.0.0.1 --port ${shownPort} --to postmaster@${host.hostname}</code></pre>
      <p>From a machine outside your network, the whole way (the MX record, the relay, your router, your server):</p>
      <pre><code>swaks --to postmaster@${host.hostname}</code></pre></li>
    <li><h3>Your own domain, too</h3>
      <p>Point its MX at <code>${mx}</code> (not at <code>${host.hostname}</code>, whose address is your home
      connection, where port 25 is blocked): <code>example.org. MX 10 ${mx}.</code></p></li>
  </ol>
</section>`,
    base,
  );
}
