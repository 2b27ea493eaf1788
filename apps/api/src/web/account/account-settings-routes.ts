import { fqdn } from '@mydns/domain';
import { AppError } from '@mydns/runtime';
import type { Request, RequestHandler, Response, Router } from 'express';
import { apiError } from '../../errors.ts';
import { asyncHandler } from '../../http/async-handler.ts';
import type { Services } from '../../services.ts';
import type { NewToken } from '../dashboard/tokens-page.ts';
import { field } from '../form.ts';
import type { FormState, Problem } from '../form-view.ts';
import type { SafeHtml } from '../html.ts';
import { checkSignedInPassword } from '../login-problems.ts';
import { messagePage } from '../pages.ts';
import { changePasswordFromForm } from '../password-form.ts';
import { problemOf } from '../problems.ts';
import type { AccountSession, WebSessions } from '../sessions.ts';
import { accountSettingsPage, accountTokensPage, notificationsPage } from './account-settings-pages.ts';

export interface AccountSettingsContext {
  services: Services;
  sessions: WebSessions;
  page(req: Request, res: Response, title: string, body: SafeHtml, status?: number): void;
  form: RequestHandler;
  requireAccount: RequestHandler;
  checkCsrf: RequestHandler;
}

/** Fixed notices a redirect may name (never text from the request). */
const NOTICES: Record<string, string> = {
  'token-deleted': 'The token is deleted; routers using it are refused from now on.',
  'token-gone': 'That token was already deleted.',
  'notices-saved': 'Notifications saved.',
  'password-changed': 'Password changed. Other sessions were signed out.',
};

const noticeOf = (req: Request) =>
  NOTICES[new URL(req.originalUrl, 'http://x').searchParams.get('notice') ?? ''];

/** Every value of a repeated form field (checkboxes of one name). */
function fields(body: unknown, name: string): string[] {
  const value = (body as Record<string, unknown> | undefined)?.[name];
  const list = Array.isArray(value) ? value : [value];
  return list.filter((item): item is string => typeof item === 'string');
}

/**
 * The account's tokens, notifications and settings (account-settings-pages.ts).
 * Each sensitive form (a token, a new password, the deletion) asks for the
 * current password again, as the JSON API does: a session cookie alone is
 * not enough.
 */
export function addAccountSettingsPages(router: Router, context: AccountSettingsContext): void {
  const { services, sessions, page, form, requireAccount, checkCsrf } = context;
  const accounts = services.accounts;
  const sessionOf = (res: Response) => res.locals.session as AccountSession;
  /** The current password, as a problem beside `id` (or the whole form: too many tries), or undefined. */
  const confirm = async (req: Request, res: Response, name: string, id: string) => {
    const refused = await checkSignedInPassword(
      services.authenticator,
      res,
      sessionOf(res),
      field(req.body, name),
      'The password is wrong.',
    );
    if (!refused) return undefined;
    const problem: Problem =
      refused.status === 401 ? { text: refused.message, field: id } : { text: refused.message };
    return { problem, status: refused.status };
  };
  const redirectTo =
    (location: string): RequestHandler =>
    (_req, res) =>
      res.redirect(303, location);

  const renderTokens = async (
    req: Request,
    res: Response,
    extra: { newToken?: NewToken; create?: FormState } = {},
    status = 200,
  ) => {
    const session = sessionOf(res);
    const notice = noticeOf(req);
    const hosts = await accounts.hostsOf(session.account);
    page(
      req,
      res,
      'Account tokens',
      accountTokensPage({
        email: session.account.email,
        csrf: session.csrf,
        hostnames: hosts.map((host) => fqdn(host.name, host.zone)),
        tokens: await accounts.listTokens(session.account),
        ...(notice ? { list: { notice } } : {}),
        ...extra,
        now: new Date(),
      }),
      status,
    );
  };
  router.get(
    '/account/tokens',
    requireAccount,
    asyncHandler((req, res) => renderTokens(req, res)),
  );
  router.post(
    '/account/tokens',
    form,
    requireAccount,
    checkCsrf,
    asyncHandler(async (req, res) => {
      const account = sessionOf(res).account;
      const chosen = fields(req.body, 'hosts');
      const some = field(req.body, 'scope') === 'some';
      const values = {
        label: field(req.body, 'label'),
        scope: some ? 'some' : 'all',
        hosts: chosen.join(' '),
      };
      const fail = (problem: Problem, status: number) =>
        renderTokens(req, res, { create: { values, problem } }, status);
      if (some && chosen.length === 0)
        return fail({ text: 'Tick the hosts the token may update.', field: 'token-hosts' }, 400);
      const wrong = await confirm(req, res, 'currentPassword', 'token-current');
      if (wrong) return fail(wrong.problem, wrong.status);
      try {
        const created = await accounts.createToken(account, {
          label: values.label,
          hosts: some ? chosen : null,
        });
        res.locals.logger.info('account token created', { account: account.id });
        await renderTokens(req, res, { newToken: { label: created.label, token: created.token } });
      } catch (error) {
        const problem = problemOf(error, { fields: { label: 'token-label', hostname: 'token-hosts' } });
        if (!problem) throw error;
        await fail(problem, (error as AppError).status);
      }
    }),
  );
  router.get('/account/tokens/:id/delete', requireAccount, redirectTo('/account/tokens'));
  router.post(
    '/account/tokens/:id/delete',
    form,
    requireAccount,
    checkCsrf,
    asyncHandler(async (req, res) => {
      const id = Number(req.params.id);
      try {
        if (!Number.isSafeInteger(id) || id < 1) throw apiError('token_not_found', 'no such token');
        await accounts.revokeToken(sessionOf(res).account, id);
      } catch (error) {
        if (error instanceof AppError && error.status === 404)
          return res.redirect(303, '/account/tokens?notice=token-gone');
        throw error;
      }
      res.redirect(303, '/account/tokens?notice=token-deleted');
    }),
  );

  const renderNotifications = async (req: Request, res: Response, state?: FormState) => {
    const session = sessionOf(res);
    const account = await accounts.reload(session.account);
    const hosts = await accounts.hostsOf(account);
    const notice = noticeOf(req);
    page(
      req,
      res,
      'Notifications',
      notificationsPage({
        email: account.email,
        verified: account.emailVerifiedAt !== null,
        csrf: session.csrf,
        hosts: await Promise.all(
          hosts.map(async (host) => ({
            id: host.id,
            hostname: fqdn(host.name, host.zone),
            email: await services.notices.isOn(host.id),
          })),
        ),
        ...(state ? { form: state } : notice ? { form: { notice } } : {}),
      }),
    );
  };
  router.get(
    '/account/notifications',
    requireAccount,
    asyncHandler((req, res) => renderNotifications(req, res)),
  );
  router.post(
    '/account/notifications',
    form,
    requireAccount,
    checkCsrf,
    asyncHandler(async (req, res) => {
      const on = new Set(fields(req.body, 'email'));
      // Only the account's own hosts are looked at: an id of another host in the form changes nothing.
      for (const host of await accounts.hostsOf(sessionOf(res).account)) {
        const wanted = on.has(String(host.id));
        // Turning on marks the current address as told; an unchanged one keeps what was told.
        if (wanted !== (await services.notices.isOn(host.id)))
          await services.notices.setEmail(host.id, wanted);
      }
      res.redirect(303, '/account/notifications?notice=notices-saved#notices');
    }),
  );

  const renderSettings = (
    req: Request,
    res: Response,
    forms: { password?: FormState; deletion?: FormState } = {},
    status = 200,
  ) => {
    const session = sessionOf(res);
    const notice = noticeOf(req);
    page(
      req,
      res,
      'Account settings',
      accountSettingsPage({
        email: session.account.email,
        csrf: session.csrf,
        ...(notice && !forms.password ? { password: { notice } } : {}),
        ...forms,
      }),
      status,
    );
  };
  router.get('/account/settings', requireAccount, (req, res) => renderSettings(req, res));
  router.get('/account/settings/password', requireAccount, redirectTo('/account/settings'));
  router.get('/account/settings/delete', requireAccount, redirectTo('/account/settings'));
  router.post(
    '/account/settings/password',
    form,
    requireAccount,
    checkCsrf,
    asyncHandler(async (req, res) => {
      const session = sessionOf(res);
      const changed = await changePasswordFromForm(req, {
        check: () => confirm(req, res, 'current', 'current'),
        // Ends every other session of the account.
        change: (password) =>
          accounts.changePassword(session.account, password, {
            keepSession: session,
            owner: services.authenticator.limitKey(res.locals.client),
          }),
        fail: (problem, status) => renderSettings(req, res, { password: { problem } }, status),
      });
      if (!changed) return;
      res.locals.logger.info('account password changed', { account: session.account.id });
      res.redirect(303, '/account/settings?notice=password-changed#change-password');
    }),
  );
  router.post(
    '/account/settings/delete',
    form,
    requireAccount,
    checkCsrf,
    asyncHandler(async (req, res) => {
      const { account } = sessionOf(res);
      const typed = field(req.body, 'confirm').trim().toLowerCase();
      const fail = (problem: Problem, status = 400) =>
        renderSettings(req, res, { deletion: { problem, values: { confirm: typed } } }, status);
      if (typed !== account.email.toLowerCase())
        return fail({ text: `Type ${account.email} to delete the account.`, field: 'confirm-email' });
      const wrong = await confirm(req, res, 'currentPassword', 'delete-password');
      if (wrong) return fail(wrong.problem, wrong.status);
      try {
        await accounts.remove(account);
      } catch (error) {
        const problem = problemOf(error);
        if (!problem) throw error;
        return fail(problem, (error as AppError).status);
      }
      res.locals.logger.info('account deleted', { account: account.id });
      await sessions.end(req, res);
      res.locals.session = undefined;
      page(
        req,
        res,
        'Deleted',
        messagePage('The account is deleted', 'Its hosts have left DNS, and their tokens no longer work.', {
          href: '/',
          label: 'Home',
        }),
      );
    }),
  );
}
