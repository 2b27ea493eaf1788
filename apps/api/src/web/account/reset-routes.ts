import type { AppError } from '@mydns/runtime';
import type { Request, RequestHandler, Response, Router } from 'express';
import { checkEmail } from '../../accounts/accounts-service.ts';
import type { Config } from '../../config.ts';
import { asyncHandler } from '../../http/async-handler.ts';
import type { Services } from '../../services.ts';
import { field } from '../form.ts';
import type { SafeHtml } from '../html.ts';
import { messagePage } from '../pages.ts';
import { problemOf } from '../problems.ts';
import type { WebSessions } from '../sessions.ts';
import {
  forgotPasswordPage,
  invalidLinkPage,
  resetPasswordPage,
  resetSentPage,
  verifyEmailPage,
} from './reset-pages.ts';

export interface ResetPagesContext {
  config: Config;
  services: Services;
  sessions: WebSessions;
  page(req: Request, res: Response, title: string, body: SafeHtml, status?: number): void;
  form: RequestHandler;
}

/**
 * The pages of mailed links and "forgot password" (README "Accounts"). The
 * forgot form answers the same page whatever the address, and does its
 * lookup and mail after the answer (as the JSON API does), so neither the
 * answer nor its time says whether an account exists.
 */
export function addResetPages(router: Router, context: ResetPagesContext): void {
  const { config, services, sessions, page, form } = context;
  const accounts = services.accounts;
  const tokenOf = (req: Request) => {
    const value = new URL(req.originalUrl, 'http://localhost').searchParams.get('token');
    return value ?? '';
  };
  const mailOptions = () => ({ mail: services.mail.enabled, contact: config.accounts.operatorContact });

  router.get('/verify-email', (req, res) => {
    page(req, res, 'Confirm your address', verifyEmailPage(tokenOf(req), sessions.anonymousCsrf(req, res)));
  });
  router.post(
    '/verify-email',
    form,
    asyncHandler(async (req, res) => {
      if (!sessions.checkAnonymousCsrf(req, res, field(req.body, '_csrf'))) {
        page(
          req,
          res,
          'Confirm your address',
          verifyEmailPage(field(req.body, 'token'), sessions.anonymousCsrf(req, res)),
          403,
        );
        return;
      }
      try {
        const account = await accounts.verifyEmail(field(req.body, 'token'));
        res.locals.logger.info('account e-mail address verified', { account: account.id });
        page(
          req,
          res,
          'Address confirmed',
          messagePage('Address confirmed', 'Thank you: your address is confirmed.', {
            href: '/login',
            label: 'Sign in',
          }),
        );
      } catch (error) {
        if ((error as AppError).code !== 'invalid_token') throw error;
        page(req, res, 'Link not valid', invalidLinkPage(), 400);
      }
    }),
  );

  router.get('/forgot-password', (req, res) => {
    page(
      req,
      res,
      'Forgot your password?',
      forgotPasswordPage(sessions.anonymousCsrf(req, res), mailOptions()),
    );
  });
  router.post(
    '/forgot-password',
    form,
    asyncHandler(async (req, res) => {
      const csrf = sessions.anonymousCsrf(req, res);
      const values = { email: field(req.body, 'email') };
      const again = (text: string, status: number) =>
        page(
          req,
          res,
          'Forgot your password?',
          forgotPasswordPage(csrf, mailOptions(), { values, problem: { text, field: 'email' } }),
          status,
        );
      if (!sessions.checkAnonymousCsrf(req, res, field(req.body, '_csrf')))
        return again('The form expired; please try again.', 403);
      let email: string;
      try {
        email = checkEmail(values.email);
      } catch {
        return again('This is not an e-mail address.', 400);
      }
      requestReset(services, email, res);
      page(req, res, 'Check your mail', resetSentPage(), 202);
    }),
  );

  router.get(
    '/reset-password',
    asyncHandler(async (req, res) => {
      const token = tokenOf(req);
      // Looking is not using: the link stays valid until the form is sent.
      if (!(await accounts.isResetTokenLive(token))) {
        page(req, res, 'Link not valid', invalidLinkPage(), 400);
        return;
      }
      page(req, res, 'Choose a new password', resetPasswordPage(token, sessions.anonymousCsrf(req, res)));
    }),
  );
  router.post(
    '/reset-password',
    form,
    asyncHandler(async (req, res) => {
      const csrf = sessions.anonymousCsrf(req, res);
      const token = field(req.body, 'token');
      const again = (text: string, fieldName: string | undefined, status: number) =>
        page(
          req,
          res,
          'Choose a new password',
          resetPasswordPage(token, csrf, { problem: { text, ...(fieldName ? { field: fieldName } : {}) } }),
          status,
        );
      if (!sessions.checkAnonymousCsrf(req, res, field(req.body, '_csrf')))
        return again('The form expired; please try again.', undefined, 403);
      if (field(req.body, 'password') !== field(req.body, 'confirm'))
        return again('The two passwords differ.', 'confirm', 400);
      try {
        const account = await accounts.confirmPasswordReset(token, field(req.body, 'password'), {
          owner: services.authenticator.limitKey(res.locals.client),
        });
        res.locals.logger.info('account password reset', { account: account.id });
        res.redirect(303, '/login?notice=password-reset');
      } catch (error) {
        if ((error as AppError).code === 'invalid_token') {
          page(req, res, 'Link not valid', invalidLinkPage(), 400);
          return;
        }
        const problem = problemOf(error, { fields: { password: 'password' } });
        if (problem) return again(problem.text, problem.field, (error as AppError).status);
        throw error;
      }
    }),
  );
}

/**
 * A reset asked for by anyone: counted per source and per recipient (the
 * mail limits), and looked up and mailed after the answer, whatever the
 * verdict, so that nothing of it shows in the answer.
 */
export function requestReset(services: Services, email: string, res: Response): void {
  const verdict = services.mail.limits.allow({ recipient: email, source: res.locals.client });
  if (!verdict.allowed) {
    res.locals.logger.info('password reset not mailed: over the mail limit', { scope: verdict.scope });
    return;
  }
  services.background.run('password reset mail', () => services.accounts.mailPasswordReset(email));
}
