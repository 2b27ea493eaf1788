import type { OwnerRecord } from '@mydns/domain';
import type { HostView } from '../../hosts/hosts-service.ts';
import { csrfField, type FormState, fieldAttributes, fieldProblem, formMessage } from '../form-view.ts';
import { html, type SafeHtml } from '../html.ts';
import { dashboardFrame } from './frame.ts';

/**
 * The owner's records and the wildcard as one form (README "Records"): one
 * record per line, `<subname> <TYPE> <ttl> <content>`, `@` for the host
 * itself. Works without JavaScript; the whole set is saved as one PUT.
 */
export interface RecordsData {
  /** Where the host's pages are: '' (/dashboard…) or an account's /account/hosts/<hostname>. */
  readonly base?: string;
  readonly host: HostView;
  readonly csrf: string;
  readonly records: readonly OwnerRecord[];
  readonly form?: FormState;
}

/** The lines of the form, as the record set a PUT takes (a malformed line fails there, named). */
export function parseRecordLines(text: string): Record<string, unknown>[] {
  return text
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'))
    .map((line) => {
      const match = /^(\S+)\s+(\S+)\s+(\d+)\s+(.*)$/.exec(line);
      if (!match) return { subname: line.split(/\s+/)[0] ?? '', type: '', content: '' };
      const [, subname = '', type = '', ttl = '', content = ''] = match;
      return { subname: subname === '@' ? '' : subname, type, ttl: Number(ttl), content };
    });
}

export function formatRecordLines(records: readonly OwnerRecord[]): string {
  return records
    .map((r) => `${r.subname === '' ? '@' : r.subname} ${r.type} ${r.ttl} ${r.content}`)
    .join('\n');
}

export function recordsPage(data: RecordsData): SafeHtml {
  const base = data.base ?? '';
  const { host, form } = data;
  const text = form?.values?.records ?? formatRecordLines(data.records);
  const wildcard = form?.values ? form.values.wildcard === 'on' : host.wildcard;
  return dashboardFrame(
    host.hostname,
    'records',
    'Records',
    html`<section class="card" aria-labelledby="records-title">
  <h2 id="records-title">Names and records</h2>
  ${formMessage(form)}
  <form method="post" action="${base}/dashboard/records#records-title" novalidate>
    ${csrfField(data.csrf)}
    <label class="check"><input type="checkbox" name="wildcard" id="records-wildcard" ${wildcard ? html`checked` : ''}>
      Wildcard: every name below <code>${host.hostname}</code> answers its addresses</label>
    <label for="records-set">Records, one per line: name, type, TTL, content</label>
    <textarea id="records-set" name="records" rows="14" spellcheck="false"${fieldAttributes(form, 'records-set', 'records-help')}>${text}</textarea>
    ${fieldProblem(form, 'records-set')}
    <div class="help" id="records-help">
      <p><code>@</code> is <code>${host.hostname}</code> itself; <code>www</code> is <code>www.${host.hostname}</code>. Types:
      TXT, MX (<code>10 mail.example.org.</code>), SRV (<code>10 5 5060 sip.example.org.</code>), CAA
      (<code>0 issue "letsencrypt.org"</code>), CNAME (not at <code>@</code>, alone at its name), A (an address, or
      <code>@</code> for your IPv4), AAAA (an address, or an interface identifier such as <code>::211:22ff:fe33:4455</code>
      that follows your IPv6 prefix). At most 50; a problem names the record by its place, <code>records[0]</code> being the first line.</p>
      <p>Example: <code>nas AAAA 60 ::211:22ff:fe33:4455</code></p>
    </div>
    <button type="submit">Save records</button>
  </form>
</section>`,
    base,
  );
}
