import type { MailSettings } from '@mydns/db';
import { isDeniedMailPort, MAIL_CLIENT_ADDRESS_MODES, MAIL_TLS_MODES } from '@mydns/domain';
import { apiError, type ErrorCode } from '../errors.ts';

/**
 * Validates a `mail` object of PATCH /api/v1/hosts/{name}; fields not given
 * keep their value. Messages are for a person (the dashboard shows them beside
 * the form); `details.field` names the field for programs.
 */
export function checkMailSettings(input: unknown, current: MailSettings): MailSettings {
  const fail = (code: ErrorCode, field: string, message: string) =>
    apiError(code, message, { details: { field } });
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    throw fail('invalid_mail', 'mail', 'The mail settings must be an object');
  }
  const given = input as Record<string, unknown>;
  const known = new Set(['enabled', 'port', 'clientAddress', 'tls', 'fingerprint']);
  const unknown = Object.keys(given).filter((key) => !known.has(key));
  if (unknown.length > 0) throw fail('invalid_mail', 'mail', `Unknown mail settings: ${unknown.join(', ')}`);
  const enabled = given.enabled ?? current.enabled;
  if (typeof enabled !== 'boolean')
    throw fail('invalid_mail_enabled', 'mail.enabled', 'Forwarding is either on or off (true or false)');
  const port = given.port === undefined ? current.port : given.port;
  if (port !== null && (typeof port !== 'number' || !Number.isInteger(port) || port < 1 || port > 65535)) {
    throw fail('invalid_mail_port', 'mail.port', 'The port must be a whole number from 1 to 65535');
  }
  if (port !== null && isDeniedMailPort(port)) {
    throw fail(
      'denied_mail_port',
      'mail.port',
      `Port ${port} is not allowed: use 25, 465, 587 or a port from 1024 up that is not a well-known database port`,
    );
  }
  if (enabled && port === null)
    throw fail(
      'mail_port_required',
      'mail.port',
      'Give the port your mail server listens on to turn forwarding on',
    );
  const clientAddress = given.clientAddress ?? current.clientAddress;
  if (!MAIL_CLIENT_ADDRESS_MODES.includes(clientAddress as MailSettings['clientAddress'])) {
    throw fail(
      'invalid_mail_client_address',
      'mail.clientAddress',
      `How your server learns the sender's address must be one of ${MAIL_CLIENT_ADDRESS_MODES.join(', ')}`,
    );
  }
  const tls = given.tls ?? current.tls;
  if (!MAIL_TLS_MODES.includes(tls as MailSettings['tls'])) {
    throw fail('invalid_mail_tls', 'mail.tls', `The TLS mode must be one of ${MAIL_TLS_MODES.join(', ')}`);
  }
  const givenFingerprint = given.fingerprint === undefined ? current.fingerprint : given.fingerprint;
  let fingerprint: string | null = null;
  if (givenFingerprint !== null) {
    if (typeof givenFingerprint !== 'string' || !/^[0-9a-f]{64}$/i.test(givenFingerprint.replace(/:/g, ''))) {
      throw fail(
        'invalid_mail_fingerprint',
        'mail.fingerprint',
        'The certificate fingerprint must be a SHA-256 in hex (64 digits, colons allowed)',
      );
    }
    fingerprint = givenFingerprint.replace(/:/g, '').toLowerCase();
  }
  if (tls === 'fingerprint' && fingerprint === null) {
    throw fail(
      'mail_fingerprint_required',
      'mail.fingerprint',
      "Give your server's certificate fingerprint to pin it (or choose another TLS mode)",
    );
  }
  return {
    enabled,
    port,
    clientAddress: clientAddress as MailSettings['clientAddress'],
    tls: tls as MailSettings['tls'],
    fingerprint,
  };
}
