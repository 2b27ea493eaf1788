import { AppError } from '@mydns/runtime';
import { MAX_PASSWORD_BYTES, MIN_PASSWORD_CHARACTERS } from '../auth/password-policy.ts';
import type { ErrorCode } from '../errors.ts';
import { MAX_TOKENS } from '../hosts/hosts-service.ts';
import type { Problem } from './form-view.ts';

/**
 * A service error in a person's words, for the form that caused it. The
 * services speak the JSON API's language (`mail.port must be …`, stable
 * codes); a page speaks of the form in front of the person and points at
 * the field. The codes are stable, so the words are chosen by code; an
 * unknown code falls back to the service's message, made a sentence.
 */

/** The logical fields a problem can be about; each form says which input holds each. */
export type ProblemField =
  | 'hostname'
  | 'zone'
  | 'password'
  | 'email'
  | 'label'
  | 'port'
  | 'clientAddress'
  | 'tls'
  | 'fingerprint';

export interface ProblemContext {
  /** The input id of each logical field on this form. */
  readonly fields?: Partial<Record<ProblemField, string>>;
  /** How this form names the password it sets: "The password", "The new password". */
  readonly passwordNoun?: string;
  /** What the person typed, for messages that repeat it (a refused port). */
  readonly values?: Readonly<Record<string, string>>;
}

/** Keyed by the catalog's codes (errors.ts), so a renamed code cannot leave its words behind. */
const WORDS: Partial<
  Record<ErrorCode, { field?: ProblemField; text: (context: ProblemContext, error: AppError) => string }>
> = {
  invalid_mail_port: { field: 'port', text: () => 'The port must be a number from 1 to 65535.' },
  denied_mail_port: {
    field: 'port',
    text: (c) =>
      `Port ${c.values?.port ?? ''} cannot be used: choose 25, 465, 587, or a port from 1024 up that is not a well-known database or cache port (2525 is a common choice).`,
  },
  mail_port_required: {
    field: 'port',
    text: () => 'Enter the port your mail server listens on, to turn forwarding on.',
  },
  invalid_mail_client_address: {
    field: 'clientAddress',
    text: () => 'Choose how your server learns the sender’s address.',
  },
  invalid_mail_tls: { field: 'tls', text: () => 'Choose how the relay uses TLS towards your server.' },
  invalid_mail_fingerprint: {
    field: 'fingerprint',
    text: () =>
      'The fingerprint must be a SHA-256 in hexadecimal: 64 digits and letters a–f, colons allowed.',
  },
  mail_fingerprint_required: {
    field: 'fingerprint',
    text: () =>
      'A pinned certificate needs its SHA-256 fingerprint: paste it here, or choose another TLS setting.',
  },
  invalid_token_label: {
    field: 'label',
    text: () => 'Give the token a name of 1 to 64 characters, such as “router” or “nas”.',
  },
  too_many_tokens: {
    text: () =>
      `This hostname has ${MAX_TOKENS} tokens, the most it can have: revoke one you no longer use first.`,
  },
  password_required: { field: 'password', text: (c) => `${c.passwordNoun ?? 'The password'} is missing.` },
  password_too_short: {
    field: 'password',
    text: (c) => `${c.passwordNoun ?? 'The password'} needs at least ${MIN_PASSWORD_CHARACTERS} characters.`,
  },
  password_blank: {
    field: 'password',
    text: (c) => `${c.passwordNoun ?? 'The password'} cannot be only spaces.`,
  },
  password_too_personal: {
    field: 'password',
    // "the password cannot contain the hostname" or "… your e-mail address": the service says which.
    text: (c, error) => sentence(error.message.replace(/^the password/i, c.passwordNoun ?? 'The password')),
  },
  password_common: {
    field: 'password',
    text: (c) =>
      `${c.passwordNoun ?? 'The password'} is one of the most common ones, which attackers try first: please choose another.`,
  },
  password_too_long: {
    field: 'password',
    text: (c) =>
      `${c.passwordNoun ?? 'The password'} can have at most ${MAX_PASSWORD_BYTES} bytes (letters with accents count twice).`,
  },
  unknown_zone: {
    field: 'zone',
    text: (_c, error) => {
      const zones = (error.details?.zones as readonly string[] | undefined) ?? [];
      return `Choose one of the zones this service offers${zones.length > 0 ? `: ${zones.join(', ')}` : ''}.`;
    },
  },
  invalid_email: {
    field: 'email',
    text: () => 'The e-mail address does not look right; leave it empty if you prefer.',
  },
};

/** Makes a service message a sentence: a capital first letter and a full stop. */
function sentence(message: string): string {
  const text = message.charAt(0).toUpperCase() + message.slice(1);
  return /[.!?]$/.test(text) ? text : `${text}.`;
}

export function describeProblem(error: AppError, context: ProblemContext = {}): Problem {
  const known = WORDS[error.code as ErrorCode];
  const field: ProblemField | undefined =
    known?.field ?? (error.code.startsWith('hostname_') ? 'hostname' : undefined);
  const text = known ? known.text(context, error) : sentence(error.message);
  const id = field === undefined ? undefined : context.fields?.[field];
  return id === undefined ? { text } : { text, field: id };
}

/** A person's mistake (a 4xx AppError) in words; anything else is not for the page to show. */
export function problemOf(error: unknown, context: ProblemContext = {}): Problem | undefined {
  return error instanceof AppError && error.status < 500 ? describeProblem(error, context) : undefined;
}
