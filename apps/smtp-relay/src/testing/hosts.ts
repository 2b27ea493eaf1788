import type { MailHost } from '../hosts.ts';

/** A host forwarding mail to `127.0.0.1:port` (tests). */
export function mailHost(
  name: string,
  port: number,
  overrides: Partial<Omit<MailHost, 'mail'>> & { mail?: Partial<MailHost['mail']> } = {},
): MailHost {
  const { mail, ...rest } = overrides;
  return {
    name,
    ipv4: '127.0.0.1',
    ipv6: null,
    status: 'active',
    ...rest,
    mail: { enabled: true, port, clientAddress: 'none', tls: 'none', tlsFingerprint: null, ...mail },
  };
}
