import type { MailSettings } from '@mydns/db';
import { isDeniedMailPort, MAIL_CLIENT_ADDRESS_MODES, MAIL_TLS_MODES } from '@mydns/domain';
import { badRequest } from '@mydns/runtime';

/** Validates a `mail` object of PATCH /api/v1/hosts/{name}; fields not given keep their value. */
export function checkMailSettings(input: unknown, current: MailSettings): MailSettings {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    throw badRequest('invalid_mail', 'mail must be an object');
  }
  const given = input as Record<string, unknown>;
  const known = new Set(['enabled', 'port', 'clientAddress', 'tls', 'fingerprint']);
  const unknown = Object.keys(given).filter((key) => !known.has(key));
  if (unknown.length > 0) throw badRequest('invalid_mail', `unknown mail settings: ${unknown.join(', ')}`);
  const enabled = given.enabled ?? current.enabled;
  if (typeof enabled !== 'boolean')
    throw badRequest('invalid_mail_enabled', 'mail.enabled must be true or false');
  const port = given.port === undefined ? current.port : given.port;
  if (port !== null && (typeof port !== 'number' || !Number.isInteger(port) || port < 1 || port > 65535)) {
    throw badRequest('invalid_mail_port', 'mail.port must be a whole number from 1 to 65535');
  }
  if (port !== null && isDeniedMailPort(port)) {
    throw badRequest(
      'denied_mail_port',
      `mail.port ${port} is not allowed: use 25, 465, 587 or a port from 1024 up that is not a well-known database port`,
    );
  }
  if (enabled && port === null)
    throw badRequest('mail_port_required', 'mail.port is required to enable forwarding');
  const clientAddress = given.clientAddress ?? current.clientAddress;
  if (!MAIL_CLIENT_ADDRESS_MODES.includes(clientAddress as MailSettings['clientAddress'])) {
    throw badRequest(
      'invalid_mail_client_address',
      `mail.clientAddress must be one of ${MAIL_CLIENT_ADDRESS_MODES.join(', ')}`,
    );
  }
  const tls = given.tls ?? current.tls;
  if (!MAIL_TLS_MODES.includes(tls as MailSettings['tls'])) {
    throw badRequest('invalid_mail_tls', `mail.tls must be one of ${MAIL_TLS_MODES.join(', ')}`);
  }
  const givenFingerprint = given.fingerprint === undefined ? current.fingerprint : given.fingerprint;
  let fingerprint: string | null = null;
  if (givenFingerprint !== null) {
    if (typeof givenFingerprint !== 'string' || !/^[0-9a-f]{64}$/i.test(givenFingerprint.replace(/:/g, ''))) {
      throw badRequest(
        'invalid_mail_fingerprint',
        'mail.fingerprint must be a SHA-256 in hex (64 digits, colons allowed)',
      );
    }
    fingerprint = givenFingerprint.replace(/:/g, '').toLowerCase();
  }
  if (tls === 'fingerprint' && fingerprint === null) {
    throw badRequest('mail_fingerprint_required', 'mail.tls "fingerprint" needs mail.fingerprint');
  }
  return {
    enabled,
    port,
    clientAddress: clientAddress as MailSettings['clientAddress'],
    tls: tls as MailSettings['tls'],
    fingerprint,
  };
}
