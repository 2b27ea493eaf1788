import type { AppError } from '@mydns/runtime';
import type { Request, RequestHandler, Response, Router } from 'express';
import { renderSVG } from 'uqr';
import { encodeBase32, otpauthUrl } from '../../auth/totp.ts';
import type { Config } from '../../config.ts';
import { asyncHandler } from '../../http/async-handler.ts';
import type { Services } from '../../services.ts';
import { field } from '../form.ts';
import type { FormState } from '../form-view.ts';
import type { SafeHtml } from '../html.ts';
import { checkSignedInPassword, loginProblem } from '../login-problems.ts';
import { loginPage } from '../pages.ts';
import { problemOf } from '../problems.ts';
import type { AccountSession, WebSessions } from '../sessions.ts';
import { accountPage, secondFactorPage, signupPage, totpSetupPage, totpStartPage } from './account-pages.ts';
import { addAccountSettingsPages } from './account-settings-routes.ts';

export interface AccountPagesContext {
  config: Config;
  services: Services;
  sessions: WebSessions;
  page(req: Request, res: Response, title: string, body: SafeHtml, status?: number): void;
  form: RequestHandler;
  checkCsrf: RequestHandler;
}

const NOTICES: Record<string, string> = {
  welcome: 'Your account is made. We sent a mail to confirm the address.',
  'totp-on': 'Two-factor sign-in is on.',
  'host-added': 'The host is added.',
  'host-deleted': 'The host is deleted; its records have left DNS.',
};

/** The QR code of an otpauth URL, as SVG drawn here: the secret goes to no outside service. */
export function qrSvg(url: string): string {
  return renderSVG(url, { ecc: 'M', border: 2 });
}

/**
 * The account's web pages (README "Accounts"): sign-up, sign-in with an
 * e-mail address (with TOTP: a second step asks for the code), the account
 * page with its hosts and "add a host", the TOTP setup. Logins go through the
 * one authentication path (auth/authenticator.ts), as the hosts' do.
 */
export function addAccountPages(router: Router, context: AccountPagesContext): void {
  const { config, services, sessions, page, form, checkCsrf } = context;
  const accounts = services.accounts;
  const owner = (res: Response) => services.authenticator.limitKey(res.locals.client);
  const requireAccount: RequestHandler = (_req, res, next) => {
    if (!res.locals.session) res.redirect(303, '/login');
    else if (!res.locals.session.account) res.redirect(303, '/dashboard');
    else next();
  };
  const accountOf = (res: Response) => (res.locals.session as AccountSession).account;
  const showAccount = async (
    req: Request,
    res: Response,
    extra: { notice?: string; addHost?: FormState } = {},
    status = 200,
  ) => {
    const session = res.locals.session as AccountSession;
    const view = await accounts.view(await accounts.reload(session.account));
    page(
      req,
      res,
      'Your account',
      accountPage({
        account: view,
        zones: config.zones,
        csrf: session.csrf,
        limit: config.accounts.hostsPerAccount,
        ...extra,
      }),
      status,
    );
  };

  router.get('/signup', (req, res) => {
    page(req, res, 'Create an account', signupPage(sessions.anonymousCsrf(req, res)));
  });
  router.post(
    '/signup',
    form,
    asyncHandler(async (req, res) => {
      const csrf = sessions.anonymousCsrf(req, res);
      const values = { email: field(req.body, 'email') };
      const again = (state: FormState, status = 400) =>
        page(req, res, 'Create an account', signupPage(csrf, { values, ...state }), status);
      if (!sessions.checkAnonymousCsrf(req, res, field(req.body, '_csrf')))
        return again({ problem: { text: 'The form expired; please try again.' } }, 403);
      if (field(req.body, 'password') !== field(req.body, 'confirm'))
        return again({ problem: { text: 'The two passwords differ.', field: 'confirm' } });
      if (!services.limiters.registrations.hit(owner(res)))
        return again(
          { problem: { text: 'Too many registrations from your address; please try again later.' } },
          429,
        );
      try {
        const account = await accounts.register(
          { email: values.email, password: field(req.body, 'password') },
          { owner: owner(res) },
        );
        res.locals.logger.info('account registered', { account: account.id });
        await sessions.startForAccount(res, account);
        res.redirect(303, '/account?notice=welcome');
      } catch (error) {
        const problem = problemOf(error, { fields: { email: 'email', password: 'password' } });
        if ((error as AppError).code === 'email_taken')
          return again(
            { problem: { text: 'This address has an account already: sign in.', field: 'email' } },
            409,
          );
        if (problem) return again({ problem }, (error as AppError).status);
        throw error;
      }
    }),
  );

  /** The sign-in form's e-mail branch (web/routes.ts hands it over). */
  router.post(
    '/login',
    form,
    asyncHandler(async (req, res, next) => {
      const name = field(req.body, 'hostname').trim();
      if (!name.includes('@')) {
        next();
        return;
      }
      const csrf = sessions.anonymousCsrf(req, res);
      const again = (text: string, status: number) =>
        page(
          req,
          res,
          'Sign in',
          loginPage(config.zones, csrf, { values: { hostname: name }, problem: { text } }),
          status,
        );
      if (!sessions.checkAnonymousCsrf(req, res, field(req.body, '_csrf')))
        return again('The form expired; please try again.', 403);
      const login = await services.authenticator.authenticate({
        source: res.locals.client,
        username: name,
        secret: field(req.body, 'password'),
        purpose: 'manage',
        edge: 'web',
        accounts: true,
        secondFactor: 'ask',
      });
      if (!login.ok && login.reason === 'totp_required') {
        page(
          req,
          res,
          'Authentication code',
          secondFactorPage(sessions.sealSecondFactor(login.account), csrf),
        );
        return;
      }
      if (!login.ok) {
        const problem = loginProblem(login.reason, 'Wrong e-mail address or password.');
        return again(problem.message, problem.status);
      }
      if (!login.account)
        return again('Sign in with the hostname, or with the e-mail address of an account.', 401);
      await sessions.startForAccount(res, login.account);
      res.redirect(303, '/account');
    }),
  );

  router.post(
    '/login/code',
    form,
    asyncHandler(async (req, res) => {
      const csrf = sessions.anonymousCsrf(req, res);
      const pending = field(req.body, 'pending');
      const expired = () =>
        page(
          req,
          res,
          'Sign in',
          loginPage(config.zones, csrf, { problem: { text: 'That took too long; please sign in again.' } }),
          401,
        );
      if (!sessions.checkAnonymousCsrf(req, res, field(req.body, '_csrf'))) return expired();
      const opened = sessions.openSecondFactor(pending);
      const account = opened ? await accounts.findById(opened.accountId) : undefined;
      if (!opened || !account || account.credentialVersion !== opened.credentialVersion) return expired();
      const check = await services.authenticator.verifySecondFactor({
        source: res.locals.client,
        account,
        code: field(req.body, 'code'),
        edge: 'web',
      });
      if (!check.ok) {
        const text =
          check.reason === 'blocked'
            ? 'Too many failed sign-ins from your address; please wait 15 minutes.'
            : 'That code is not right (codes change every 30 seconds, and each works once).';
        page(
          req,
          res,
          'Authentication code',
          secondFactorPage(pending, csrf, { problem: { text, field: 'code' } }),
          check.reason === 'blocked' ? 429 : 401,
        );
        return;
      }
      await sessions.startForAccount(res, account);
      res.redirect(303, '/account');
    }),
  );

  router.get(
    '/account',
    requireAccount,
    asyncHandler(async (req, res) => {
      const key = new URL(req.originalUrl, 'http://localhost').searchParams.get('notice') ?? '';
      const notice = NOTICES[key];
      await showAccount(req, res, notice ? { notice } : {});
    }),
  );
  router.get('/account/hosts', (_req, res) => res.redirect(303, '/account'));
  addAccountSettingsPages(router, { services, sessions, page, form, requireAccount, checkCsrf });
  router.post(
    '/account/hosts',
    form,
    requireAccount,
    checkCsrf,
    asyncHandler(async (req, res) => {
      const values = { hostname: field(req.body, 'hostname'), zone: field(req.body, 'zone') };
      try {
        await accounts.addHost(accountOf(res), { hostname: values.hostname, zone: values.zone || undefined });
        res.redirect(303, '/account?notice=host-added#add-host');
      } catch (error) {
        const problem = problemOf(error, { fields: { hostname: 'hostname', zone: 'zone' } });
        if (!problem) throw error;
        await showAccount(req, res, { addHost: { values, problem } }, (error as AppError).status);
      }
    }),
  );

  router.get('/account/totp', requireAccount, (req, res) => {
    page(req, res, 'Set up an authenticator app', totpStartPage((res.locals.session as AccountSession).csrf));
  });
  router.post(
    '/account/totp',
    form,
    requireAccount,
    checkCsrf,
    asyncHandler(async (req, res) => {
      const session = res.locals.session as AccountSession;
      const account = await accounts.reload(session.account);
      if (account.totpSecret !== null) {
        res.redirect(303, '/account');
        return;
      }
      const refused = await checkSignedInPassword(
        services.authenticator,
        res,
        session,
        field(req.body, 'currentPassword'),
        'The password is wrong.',
      );
      if (refused) {
        page(
          req,
          res,
          'Set up an authenticator app',
          totpStartPage(session.csrf, { problem: { text: refused.message, field: 'current' } }),
          refused.status,
        );
        return;
      }
      const setup = await accounts.secondFactor.start(account);
      // A secret is shown: the page is the POST's answer, never a URL to come back to.
      page(
        req,
        res,
        'Scan this code',
        totpSetupPage({ ...setup, qrSvg: qrSvg(setup.otpauthUrl) }, session.csrf),
      );
    }),
  );
  router.post(
    '/account/totp/confirm',
    form,
    requireAccount,
    checkCsrf,
    asyncHandler(async (req, res) => {
      const session = res.locals.session as AccountSession;
      try {
        await accounts.secondFactor.confirm(session.account, field(req.body, 'code'));
        res.locals.logger.info('account TOTP turned on', { account: session.account.id });
        // TOTP on bumps the credential version: this session stays, as it was made with the password.
        res.redirect(303, '/account?notice=totp-on');
      } catch (error) {
        if ((error as AppError).code !== 'invalid_totp_code') throw error;
        const account = await accounts.reload(session.account);
        const secret = account.totpPendingSecret;
        if (!secret) throw error;
        const url = otpauthUrl({
          issuer: services.accounts.secondFactor.issuer,
          account: account.email,
          secret,
        });
        page(
          req,
          res,
          'Scan this code',
          totpSetupPage(
            { secret: encodeBase32(secret), qrSvg: qrSvg(url), recoveryCodes: [] },
            session.csrf,
            {
              problem: {
                text: 'That code is not the current one; try the next one the app shows.',
                field: 'code',
              },
            },
          ),
          400,
        );
      }
    }),
  );
}
