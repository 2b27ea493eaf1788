import type { MailLinks } from '../mail/links.ts';
import type { MailRequest } from '../mail/outbox.ts';

/**
 * The mails of accounts. Each carries one link under MYDNS_PUBLIC_URL, to a
 * page that asks for a click or the new password: a GET of the link changes
 * nothing (mail scanners fetch links).
 */
export function accountMails(links: MailLinks) {
  const escapeAttr = (text: string) =>
    text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/"/g, '&quot;');
  const verifyUrl = (token: string) => links.link('verify-email', { token });
  const resetUrl = (token: string) => links.link('reset-password', { token });
  return {
    verifyUrl,
    resetUrl,
    verification(to: string, token: string): MailRequest {
      const url = verifyUrl(token);
      return {
        to,
        kind: 'verify_email',
        subject: 'Confirm your e-mail address for MyDNS',
        text: `Hello,\n\nsomeone (we hope you) created a MyDNS account with this address.\nTo confirm it, open this link and press the button there (valid for one hour):\n\n${url}\n\nIf it was not you, ignore this mail: nothing happens without the click.\n`,
        html: `<p>Hello,</p><p>someone (we hope you) created a MyDNS account with this address. To confirm it, open this link and press the button there (valid for one hour):</p><p><a href="${escapeAttr(url)}">Confirm my address</a></p><p>If it was not you, ignore this mail: nothing happens without the click.</p>`,
      };
    },
    passwordReset(to: string, token: string): MailRequest {
      const url = resetUrl(token);
      return {
        to,
        kind: 'password_reset',
        subject: 'Reset your MyDNS password',
        text: `Hello,\n\na new password was asked for the MyDNS account of this address.\nTo choose one, open this link (valid for one hour, once):\n\n${url}\n\nIf it was not you, ignore this mail: your password stays as it is.\n`,
        html: `<p>Hello,</p><p>a new password was asked for the MyDNS account of this address. To choose one, open this link (valid for one hour, once):</p><p><a href="${escapeAttr(url)}">Choose a new password</a></p><p>If it was not you, ignore this mail: your password stays as it is.</p>`,
      };
    },
  };
}
