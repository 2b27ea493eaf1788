/**
 * Links in mails (README "Mail"): `<MYDNS_PUBLIC_URL>/<page>?token=<token>`.
 * Pure. Every link a mail carries starts with the public URL; the outbox
 * refuses a mail with any other (a link elsewhere in a mail from us is what
 * phishing looks like, and a token must never travel to another host).
 */
import { MailInputError } from './message.ts';

export interface MailLinks {
  /** The public URL, without a trailing slash (`https://dyn.example.net`). */
  readonly base: string;
  /** `link('account/verify', { token })` → `https://dyn.example.net/account/verify?token=…` */
  link(page: string, params?: Readonly<Record<string, string>>): string;
  /** The links in `text` that do not start with the public URL (empty: all good). */
  foreign(text: string): string[];
}

export function createMailLinks(publicUrl: string): MailLinks {
  const base = publicUrl.replace(/\/+$/, '');
  const isOurs = (url: string) =>
    url === base || url.startsWith(`${base}/`) || url.startsWith(`${base}?`) || url.startsWith(`${base}#`);
  return {
    base,
    link(page, params = {}) {
      // A page is a path below ours: no scheme, no "//" (another host), no "..", no query of its own.
      if (!/^[A-Za-z0-9_-]+(\/[A-Za-z0-9_.-]+)*$/.test(page) || page.split('/').includes('..'))
        throw new MailInputError(`"${page}" is not a page of this site`);
      const query = new URLSearchParams(params).toString();
      return `${base}/${page}${query ? `?${query}` : ''}`;
    },
    foreign(text) {
      const links = text.match(/\b[A-Za-z][A-Za-z0-9+.-]*:\/\/[^\s"'<>]+/g) ?? [];
      return links.filter((url) => !isOurs(url));
    },
  };
}
