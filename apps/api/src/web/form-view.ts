import { html, type SafeHtml } from './html.ts';

/**
 * What a form shows after it was sent: the values to keep, the one problem
 * the server found (beside the field it is about, or at the top of the form),
 * or the notice of a save. Each form of a page has its own state, so a
 * message appears next to the form that caused it, never at the top of the page.
 */
export interface FormState {
  readonly values?: Readonly<Record<string, string>>;
  readonly problem?: Problem;
  readonly notice?: string;
}

/** A person's mistake in their words; `field` is the id of the input it is about. */
export interface Problem {
  readonly text: string;
  readonly field?: string;
}

export function csrfField(csrf: string): SafeHtml {
  return html`<input type="hidden" name="_csrf" value="${csrf}">`;
}

/** The form's own message: a problem that is about no single field, or the notice of a save. */
export function formMessage(state: FormState | undefined): SafeHtml {
  if (state?.problem && state.problem.field === undefined) {
    return html`<p class="alert error" role="alert">${state.problem.text}</p>`;
  }
  if (state?.notice) return html`<p class="alert ok" role="status">${state.notice}</p>`;
  return html``;
}

/**
 * The attributes of an input that may carry a problem: `aria-invalid` and
 * `aria-describedby` pointing at its message (and at its help, if it has
 * one). No `autofocus`: the answer opens at the form's section (its action's
 * fragment), and browsers skip autofocus on a page opened at a fragment.
 */
export function fieldAttributes(state: FormState | undefined, id: string, help?: string): SafeHtml {
  const invalid = state?.problem?.field === id;
  const described = [invalid ? `${id}-error` : undefined, help].filter(Boolean).join(' ');
  return html`${invalid ? html` aria-invalid="true"` : ''}${described ? html` aria-describedby="${described}"` : ''}`;
}

/** The message of a problem with this field, right below it. */
export function fieldProblem(state: FormState | undefined, id: string): SafeHtml {
  return state?.problem?.field === id
    ? html`<p class="field-error" id="${id}-error" role="alert">${state.problem.text}</p>`
    : html``;
}

/** What the person typed into a field, to show it again. */
export function typedValue(state: FormState | undefined, name: string, fallback = ''): string {
  return state?.values?.[name] ?? fallback;
}
