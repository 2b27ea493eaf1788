import type { AppError } from '@mydns/runtime';
import type { Request } from 'express';
import { field } from './form.ts';
import {
  csrfField,
  type FormState,
  fieldAttributes,
  fieldProblem,
  formMessage,
  type Problem,
} from './form-view.ts';
import { html, type SafeHtml } from './html.ts';
import { problemOf } from './problems.ts';

/**
 * The "change password" form of a host's settings and of an account's: one
 * view and one handling, so both ask the same (the current password, the new
 * one twice) and say the same.
 */

export function passwordForm(
  csrf: string,
  action: string,
  pw: FormState | undefined,
  help: string,
): SafeHtml {
  return html`<section class="card" id="change-password" aria-labelledby="password-title">
  <h2 id="password-title">Change password</h2>
  <form method="post" action="${action}#change-password">
    ${formMessage(pw)}
    ${csrfField(csrf)}
    <label for="current">Current password</label>
    <input id="current" name="current" type="password" required autocomplete="current-password"${fieldAttributes(pw, 'current')}>
    ${fieldProblem(pw, 'current')}
    <label for="new-password">New password</label>
    <input id="new-password" name="password" type="password" required minlength="8" autocomplete="new-password"${fieldAttributes(pw, 'new-password', 'new-password-help')}>
    ${fieldProblem(pw, 'new-password')}
    <p class="help" id="new-password-help">At least 8 characters.</p>
    <label for="new-confirm">New password again</label>
    <input id="new-confirm" name="confirm" type="password" required minlength="8" autocomplete="new-password"${fieldAttributes(pw, 'new-confirm')}>
    ${fieldProblem(pw, 'new-confirm')}
    <button type="submit">Change password</button>
    <p class="help">${help}</p>
  </form>
</section>`;
}

export interface PasswordChangeSteps {
  /** The current password as typed: a problem (beside `current`, or the whole form), or undefined. */
  check(secret: string): Promise<{ problem: Problem; status: number } | undefined>;
  /** Sets the new password (and ends the other sessions). */
  change(password: string): Promise<void>;
  /** Shows the form again with the problem. */
  fail(problem: Problem, status: number): unknown;
}

/** The form's POST: true once the password is changed; false when the form was shown again. */
export async function changePasswordFromForm(req: Request, steps: PasswordChangeSteps): Promise<boolean> {
  const fail = async (problem: Problem, status: number) => {
    await steps.fail(problem, status);
    return false;
  };
  const wrong = await steps.check(field(req.body, 'current'));
  if (wrong) return fail(wrong.problem, wrong.status);
  if (field(req.body, 'password') !== field(req.body, 'confirm'))
    return fail({ text: 'The two new passwords differ.', field: 'new-confirm' }, 400);
  try {
    await steps.change(field(req.body, 'password'));
  } catch (error) {
    const problem = problemOf(error, {
      fields: { password: 'new-password' },
      passwordNoun: 'The new password',
    });
    if (!problem) throw error;
    return fail(problem, (error as AppError).status);
  }
  return true;
}
