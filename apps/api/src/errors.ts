import { AppError } from '@mydns/runtime';

/**
 * Every error code the API answers, with its HTTP status: the one catalog.
 * Services throw `apiError(code, message)`; the HTTP edge (http/errors.ts)
 * sends `{"error":{"code","message"}}` with the status listed here, and the web
 * pages show the message beside the form. docs/interfaces.md lists the codes.
 */
export const ERROR_STATUS = {
  // The request itself
  bad_request: 400,
  unknown_fields: 400,
  body_too_large: 413,
  unsupported_encoding: 415,
  not_found: 404,
  // Credentials and sessions
  unauthorized: 401,
  current_password_required: 401,
  wrong_current_password: 401,
  csrf_required: 403,
  cross_site_request: 403,
  duplicate_cookies: 400,
  forbidden: 403,
  token_not_allowed: 403,
  too_many_requests: 429,
  busy: 503,
  // Registration
  registration_closed: 403,
  hostname_required: 400,
  hostname_empty: 400,
  hostname_too_long: 400,
  hostname_invalid_characters: 400,
  hostname_hyphen_edge: 400,
  hostname_idn: 400,
  hostname_reserved: 400,
  hostname_taken: 409,
  hostname_quarantined: 409,
  unknown_zone: 400,
  invalid_email: 400,
  // Passwords
  password_required: 400,
  password_blank: 400,
  password_too_short: 400,
  password_too_long: 400,
  password_too_personal: 400,
  password_common: 400,
  // A host and what hangs off it
  host_not_found: 404,
  host_disabled: 403,
  invalid_token_label: 400,
  too_many_tokens: 409,
  token_not_found: 404,
  invalid_acme_value: 400,
  too_many_acme_values: 409,
  acme_value_not_found: 404,
  invalid_records: 400,
  invalid_wildcard: 400,
  invalid_mail: 400,
  invalid_mail_enabled: 400,
  invalid_mail_port: 400,
  denied_mail_port: 400,
  mail_port_required: 400,
  invalid_mail_client_address: 400,
  invalid_mail_tls: 400,
  invalid_mail_fingerprint: 400,
  mail_fingerprint_required: 400,
  // Accounts (README "Accounts")
  email_taken: 409,
  host_limit: 403,
  host_owned: 409,
  unknown_host: 400,
  invalid_token: 400,
  confirmation_required: 400,
  totp_already_on: 409,
  totp_not_started: 409,
  invalid_totp_code: 400,
  invalid_notify: 400,
  invalid_webhook: 400,
  webhook_target_private: 400,
  // Our side
  dns_pending: 503,
  database_unavailable: 503,
  internal_error: 500,
} as const satisfies Record<string, number>;

export type ErrorCode = keyof typeof ERROR_STATUS;

export function apiError(
  code: ErrorCode,
  message: string,
  options: { cause?: unknown; details?: Record<string, unknown> } = {},
): AppError {
  return new AppError(code, message, { ...options, status: ERROR_STATUS[code] });
}
