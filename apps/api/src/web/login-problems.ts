import type { LoginResult } from '../auth/authenticator.ts';

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
