import { fqdn } from '@mydns/domain';
import type { Response } from 'express';
import type { Authenticator, LoginResult } from '../auth/authenticator.ts';
import type { WebSession } from './sessions.ts';

type Refusal = Extract<LoginResult, { ok: false }>['reason'];

/** What the web pages say when a password check refuses, in a person's words, with the page's status. */
export function loginProblem(
  reason: Refusal,
  wrong = 'Wrong hostname or password.',
): { message: string; status: number } {
  switch (reason) {
    case 'blocked':
      return { message: 'Too many failed sign-ins from your address; please wait 15 minutes.', status: 429 };
    case 'busy':
      return {
        message: 'Too many sign-ins are being checked right now; please try again in a few seconds.',
        status: 503,
      };
    case 'token_not_allowed':
      return {
        message:
          'That is an update token: it updates addresses but cannot sign in or change settings. Use the password.',
        status: 401,
      };
    default:
      return { message: wrong, status: 401 };
  }
}

/**
 * The signed-in person's password, checked again before a sensitive change,
 * like a sign-in (the same limits): the account's for an account's session
 * (its TOTP was asked at sign-in, so the session stands in for the code), the
 * host's for a host's. A refusal in a person's words, or undefined.
 */
export async function checkSignedInPassword(
  authenticator: Pick<Authenticator, 'authenticate'>,
  res: Response,
  session: WebSession,
  secret: string,
  wrong: string,
): Promise<{ message: string; status: number } | undefined> {
  const login = await authenticator.authenticate({
    source: res.locals.client,
    secret,
    purpose: 'manage',
    edge: 'web',
    ...(session.account
      ? { username: session.account.email, accounts: true, secondFactor: 'session' as const }
      : { username: fqdn(session.host.name, session.host.zone) }),
  });
  if (login.ok) return undefined;
  return loginProblem(login.reason, wrong);
}
