/**
 * The way out: sessions with the smarthost of MYDNS_MAIL_URL through
 * @mydns/smtp-client. The worker talks to this interface, so its tests can
 * pass a fake.
 */
import { openSubmission } from '@mydns/smtp-client';
import type { MailUrl } from './mail-url.ts';

export interface MailSession {
  /** Sends one message to one recipient; throws an SmtpError (SmtpRejection when refused). */
  send(recipient: string, message: string): Promise<void>;
  /** QUIT. */
  close(): void;
  /** Cuts the connection (shutdown). */
  abort(): void;
}

export interface MailTransport {
  /** A session, ready for messages; `signal` cuts the opening short (shutdown). */
  open(signal?: AbortSignal): Promise<MailSession>;
}

export function createSmarthostTransport(options: {
  smarthost: MailUrl;
  /** The envelope sender (MAIL FROM): MYDNS_MAIL_FROM's address, where bounces go. */
  sender: string;
  clientName: string;
  timeoutMs: number;
}): MailTransport {
  const { smarthost } = options;
  return {
    async open(signal) {
      const session = await openSubmission({
        ...(signal ? { signal } : {}),
        host: smarthost.host,
        port: smarthost.port,
        security: smarthost.security,
        tls: smarthost.tls,
        credentials: smarthost.credentials,
        clientName: options.clientName,
        timeouts: {
          connectMs: options.timeoutMs,
          replyMs: options.timeoutMs,
          // The smarthost may scan the message before it answers (RFC 5321 §4.5.3.2.6 allows 10 min).
          finalMs: options.timeoutMs * 2,
        },
      });
      return {
        async send(recipient, message) {
          await session.send({ from: options.sender, to: [recipient] }, message);
        },
        close: () => session.close(),
        abort: () => session.abort(),
      };
    },
  };
}
