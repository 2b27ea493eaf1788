import type { HostRecord } from '@mydns/db';
import { fqdn } from '@mydns/domain';
import { hostRrsets } from '@mydns/powerdns';
import { AppError } from '@mydns/runtime';
import { type Request, type RequestHandler, type Response, Router } from 'express';
import { covers } from '../auth/authenticator.ts';
import type { Config } from '../config.ts';
import type { HostsService } from '../hosts/hosts-service.ts';
import { asyncHandler } from '../http/async-handler.ts';
import type { Services } from '../services.ts';
import { accountHostBase } from './dashboard/frame.ts';
import { historyPage } from './dashboard/history-page.ts';
import { mailPage } from './dashboard/mail-page.ts';
import { overviewPage } from './dashboard/overview-page.ts';
import { parseRecordLines, recordsPage } from './dashboard/records-page.ts';
import { settingsPage } from './dashboard/settings-page.ts';
import { setupsPage } from './dashboard/setups-page.ts';
import { type NewToken, revokeTokenPage, tokensPage } from './dashboard/tokens-page.ts';
import { baseUrl, field } from './form.ts';
import type { FormState, Problem } from './form-view.ts';
import type { SafeHtml } from './html.ts';
import { checkSignedInPassword } from './login-problems.ts';
import { messagePage, notFoundPage } from './pages.ts';
import { changePasswordFromForm } from './password-form.ts';
import { type ProblemContext, problemOf } from './problems.ts';
import type { WebSession, WebSessions } from './sessions.ts';
import { buildSetups } from './setups.ts';

/**
 * The signed-in owner's dashboard: one page per subject (overview, setups,
 * tokens, history, mail, settings), each form posting to its own page and
 * answered by a redirect back to it with a notice, or by that page again
 * with the problem beside the form. Forms further down a page post to
 * `<address>#<their section>`: the browser opens the answer at that section,
 * and keeps the fragment across the redirect (RFC 9110 §10.2.2), so the
 * problem or the notice is in view, next to the form, even on a phone.
 * Every route here needs a session and every form its CSRF value (the
 * middleware comes from routes.ts).
 */

declare global {
  namespace Express {
    interface Locals {
      /** The host the dashboard's pages act on, and where its pages are ('' or /account/hosts/<name>). */
      dashboardHost: HostRecord;
      dashboardBase: string;
    }
  }
}

export interface DashboardContext {
  config: Config;
  services: Services;
  sessions: WebSessions;
  page: (req: Request, res: Response, title: string, body: SafeHtml, status?: number) => void;
  form: RequestHandler;
  checkCsrf: RequestHandler;
}

/** Fixed notices a redirect may name (never text from the request). */
const NOTICES: Record<string, string> = {
  'token-revoked': 'The token was revoked; clients using it are refused from now on.',
  'token-gone': 'That token was already revoked.',
  'mail-saved': 'Mail forwarding settings saved.',
  'records-saved': 'Records saved; DNS answers with them now.',
  'password-changed': 'Password changed. Other sessions were signed out.',
  'webhook-off': 'The webhook is off; nothing more is posted to it.',
  welcome: 'Welcome! Set up an updater next: your hostname gets an address with its first update.',
};

function noticeOf(req: Request): string | undefined {
  return NOTICES[new URL(req.originalUrl, 'http://x').searchParams.get('notice') ?? ''];
}

/** A person's mistake, or a 4xx from a service, as the problem of a form; anything else is thrown on. */
function mistake(error: unknown, context: ProblemContext): { problem: Problem; status: number } {
  const problem = problemOf(error, context);
  if (!problem) throw error;
  return { problem, status: (error as AppError).status };
}

export function addDashboardRoutes(parent: Router, context: DashboardContext): void {
  // One set of pages, at two places: a host's session at /dashboard…, an account's at its hosts' addresses.
  const router = Router({ mergeParams: true });
  parent.use(router);
  parent.use('/account/hosts/:host', router);
  const { config, services, sessions, page, form, checkCsrf } = context;
  const hosts: HostsService = services.hosts;
  const sessionOf = (res: Response) => res.locals.session as WebSession;
  const nameOf = (host: HostRecord) => fqdn(host.name, host.zone);
  /** The host these pages are about (requireHost chose it). */
  const pageHost = (res: Response) => res.locals.dashboardHost;
  const baseOf = (res: Response) => res.locals.dashboardBase;
  const hostOf = (res: Response) => hosts.get(nameOf(pageHost(res)));
  const show = (req: Request, res: Response, title: string, body: SafeHtml, status = 200) =>
    page(req, res, `${title} · ${nameOf(pageHost(res))}`, body, status);
  /**
   * Which host the pages act on. A host's session: its own host, at
   * /dashboard…. An account's session: the host named in
   * /account/hosts/<hostname>/dashboard…, if the account holds it (the one
   * authorization rule of auth/authenticator.ts, `covers`); any other host,
   * and a host's session at such an address, get the page of no such page.
   */
  const requireHost: RequestHandler = asyncHandler(async (req, res, next) => {
    const session = res.locals.session;
    if (!session) return res.redirect(303, '/login');
    const named = req.params.host as string | undefined;
    if (named === undefined) {
      if (!session.host) return res.redirect(303, '/account');
      res.locals.dashboardHost = session.host;
      res.locals.dashboardBase = '';
      return next();
    }
    const host = session.account ? await hosts.find(named.toLowerCase()) : undefined;
    if (!host || !session.account || !covers(session.account, { via: 'password' }, host)) {
      page(req, res, 'Page not found', notFoundPage(true), 404);
      return;
    }
    res.locals.dashboardHost = host;
    res.locals.dashboardBase = accountHostBase(nameOf(host));
    next();
  });
  /**
   * The signed-in owner's password, checked like a sign-in (same limits): a
   * problem to show beside `field` (a wrong password), or beside the whole
   * form (too many tries), or undefined.
   */
  const checkPassword = async (
    res: Response,
    session: WebSession,
    secret: string,
    field: string,
    wrong: string,
  ): Promise<{ problem: Problem; status: number } | undefined> => {
    const refused = await checkSignedInPassword(services.authenticator, res, session, secret, wrong);
    if (!refused) return undefined;
    const { message, status } = refused;
    return { problem: status === 401 ? { text: message, field } : { text: message }, status };
  };
  /** A GET of an address that only takes forms: its page. */
  const redirectTo =
    (location: string): RequestHandler =>
    (_req, res) =>
      res.redirect(303, `${baseOf(res)}${location}`);

  router.get(
    '/dashboard',
    requireHost,
    asyncHandler(async (req, res) => {
      const host = await hostOf(res);
      const [tokens, history] = await Promise.all([hosts.listTokens(host), hosts.history(host, 1)]);
      const notice = noticeOf(req);
      show(
        req,
        res,
        'Overview',
        overviewPage({
          base: baseOf(res),
          host: hosts.view(host),
          inactivityDays: config.lifecycle.inactivityDays,
          tokenCount: tokens.length,
          latest: history[0],
          ...(notice ? { notice } : {}),
          now: new Date(),
        }),
      );
    }),
  );

  // Setups: the "create a token and fill it in" form answers with the page itself, the token in it.
  const renderSetups = async (
    req: Request,
    res: Response,
    extra: { newToken?: NewToken; form?: FormState } = {},
    status = 200,
  ) => {
    const hostname = nameOf(pageHost(res));
    show(
      req,
      res,
      'Setups',
      setupsPage({
        base: baseOf(res),
        hostname,
        csrf: sessionOf(res).csrf,
        setups: buildSetups({
          baseUrl: baseUrl(config, req, res),
          hostname,
          secret: extra.newToken?.token ?? 'YOUR_TOKEN',
          ...(config.apiAddresses.length > 0
            ? {
                familyHosts: {
                  v4: `update4.${pageHost(res).zone}`,
                  v6: `update6.${pageHost(res).zone}`,
                },
              }
            : {}),
        }),
        ...extra,
      }),
      status,
    );
  };
  router.get(
    '/dashboard/setups',
    requireHost,
    asyncHandler((req, res) => renderSetups(req, res)),
  );
  router.post(
    '/dashboard/setups',
    form,
    requireHost,
    checkCsrf,
    asyncHandler(async (req, res) => {
      try {
        const created = await hosts.createToken(pageHost(res), 'setup');
        await renderSetups(req, res, { newToken: { label: created.label, token: created.token } });
      } catch (error) {
        const { problem, status } = mistake(error, {});
        await renderSetups(req, res, { form: { problem } }, status);
      }
    }),
  );

  const renderTokens = async (
    req: Request,
    res: Response,
    extra: { newToken?: NewToken; create?: FormState } = {},
    status = 200,
  ) => {
    const session = sessionOf(res);
    const notice = noticeOf(req);
    show(
      req,
      res,
      'Tokens',
      tokensPage({
        base: baseOf(res),
        hostname: nameOf(pageHost(res)),
        csrf: session.csrf,
        tokens: await hosts.listTokens(pageHost(res)),
        ...(notice ? { list: { notice } } : {}),
        ...extra,
        now: new Date(),
      }),
      status,
    );
  };
  router.get(
    '/dashboard/tokens',
    requireHost,
    asyncHandler((req, res) => renderTokens(req, res)),
  );
  router.post(
    '/dashboard/tokens',
    form,
    requireHost,
    checkCsrf,
    asyncHandler(async (req, res) => {
      const label = field(req.body, 'label');
      try {
        const created = await hosts.createToken(pageHost(res), label);
        await renderTokens(req, res, { newToken: { label: created.label, token: created.token } });
      } catch (error) {
        const { problem, status } = mistake(error, { fields: { label: 'token-label' } });
        await renderTokens(req, res, { create: { values: { label }, problem } }, status);
      }
    }),
  );
  router.get('/dashboard/tokens/:id/revoke', requireHost, redirectTo('/dashboard/tokens'));
  router.post(
    '/dashboard/tokens/:id/revoke',
    form,
    requireHost,
    checkCsrf,
    asyncHandler(async (req, res) => {
      const session = sessionOf(res);
      const id = Number(req.params.id);
      const token = (await hosts.listTokens(pageHost(res))).find((t) => t.id === id);
      if (!token) return res.redirect(303, `${baseOf(res)}/dashboard/tokens?notice=token-gone`);
      // Without JavaScript the first press asks on a page of its own; app.js asks with a dialog instead.
      if (field(req.body, 'confirm') !== 'yes') {
        return show(
          req,
          res,
          'Revoke a token',
          revokeTokenPage(nameOf(pageHost(res)), session.csrf, token, baseOf(res)),
        );
      }
      try {
        await hosts.revokeToken(pageHost(res), id);
      } catch (error) {
        if (error instanceof AppError && error.status === 404)
          return res.redirect(303, `${baseOf(res)}/dashboard/tokens?notice=token-gone`);
        throw error;
      }
      res.redirect(303, `${baseOf(res)}/dashboard/tokens?notice=token-revoked`);
    }),
  );

  router.get(
    '/dashboard/history',
    requireHost,
    asyncHandler(async (req, res) => {
      const host = pageHost(res);
      show(
        req,
        res,
        'History',
        historyPage({
          hostname: nameOf(host),
          base: baseOf(res),
          history: await hosts.history(host, 50),
          now: new Date(),
        }),
      );
    }),
  );

  const renderMail = async (req: Request, res: Response, state?: FormState, status = 200) => {
    const host = await hostOf(res);
    // What the projection publishes for this host, so the page cannot promise a record DNS does not have.
    const mx = hostRrsets(
      host.zone,
      host.name,
      {
        name: host.name,
        ipv4: host.ipv4,
        ipv6: host.ipv6,
        status: host.status,
        acme: [],
        mailEnabled: host.mail.enabled,
      },
      config.recordTtl,
    ).find((rrset) => rrset.type === 'MX');
    const notice = noticeOf(req);
    show(
      req,
      res,
      'Mail',
      mailPage({
        base: baseOf(res),
        host: hosts.view(host),
        csrf: sessionOf(res).csrf,
        zone: host.zone,
        publishedMx: mx?.records[0] ? `${mx.name}. MX ${mx.records[0]}` : undefined,
        relayAddresses: config.relayAddresses,
        ...(state ? { form: state } : notice ? { form: { notice } } : {}),
      }),
      status,
    );
  };
  const renderRecords = async (req: Request, res: Response, state?: FormState, status = 200) => {
    const host = await hostOf(res);
    const notice = noticeOf(req);
    show(
      req,
      res,
      'Records',
      recordsPage({
        base: baseOf(res),
        host: hosts.view(host),
        csrf: sessionOf(res).csrf,
        records: await services.records.list(host),
        ...(state ? { form: state } : notice ? { form: { notice } } : {}),
      }),
      status,
    );
  };
  router.get(
    '/dashboard/records',
    requireHost,
    asyncHandler((req, res) => renderRecords(req, res)),
  );
  router.post(
    '/dashboard/records',
    form,
    requireHost,
    checkCsrf,
    asyncHandler(async (req, res) => {
      const host = await hostOf(res);
      const values = {
        records: field(req.body, 'records'),
        wildcard: field(req.body, 'wildcard') === 'on' ? 'on' : '',
      };
      try {
        // The set first: a bad one changes nothing, the wildcard included.
        const saved = await services.records.replace(host, parseRecordLines(values.records));
        const wildcard = await services.records.setWildcard(host, values.wildcard === 'on');
        if (!saved.pushed || !wildcard.pushed) {
          await renderRecords(req, res, {
            notice: 'Saved; PowerDNS has not taken the change yet, it is retried.',
          });
          return;
        }
        res.redirect(303, `${baseOf(res)}/dashboard/records?notice=records-saved`);
      } catch (error) {
        if (!(error instanceof AppError) || error.status !== 400) throw error;
        await renderRecords(
          req,
          res,
          { values, problem: { text: error.message, field: 'records-set' } },
          400,
        );
      }
    }),
  );
  router.get(
    '/dashboard/mail',
    requireHost,
    asyncHandler((req, res) => renderMail(req, res)),
  );
  router.post(
    '/dashboard/mail',
    form,
    requireHost,
    checkCsrf,
    asyncHandler(async (req, res) => {
      const host = await hostOf(res);
      const values = {
        enabled: field(req.body, 'enabled') === 'on' ? 'on' : '',
        port: field(req.body, 'port').trim(),
        clientAddress: field(req.body, 'clientAddress'),
        tls: field(req.body, 'tls'),
        fingerprint: field(req.body, 'fingerprint').trim(),
      };
      try {
        await hosts.updateMail(host, {
          enabled: values.enabled === 'on',
          port:
            values.port === '' ? null : /^[0-9]{1,5}$/.test(values.port) ? Number(values.port) : Number.NaN,
          clientAddress: values.clientAddress,
          tls: values.tls,
          fingerprint: values.fingerprint === '' ? null : values.fingerprint,
        });
        res.redirect(303, `${baseOf(res)}/dashboard/mail?notice=mail-saved`);
      } catch (error) {
        const { problem, status } = mistake(error, {
          values,
          fields: {
            port: 'mail-port',
            clientAddress: 'mail-client',
            tls: 'mail-tls',
            fingerprint: 'mail-fingerprint',
          },
        });
        await renderMail(req, res, { values, problem }, status);
      }
    }),
  );

  const renderSettings = async (
    req: Request,
    res: Response,
    forms: { password?: FormState; deletion?: FormState; webhook?: FormState; newSecret?: string } = {},
    status = 200,
  ) => {
    const session = sessionOf(res);
    const notice = noticeOf(req);
    const { webhook, newSecret, ...rest } = forms;
    const [url, last] = await Promise.all([
      services.webhooks.url(pageHost(res).id),
      services.webhooks.lastDelivery(pageHost(res).id),
    ]);
    const webhookNotice = notice === NOTICES['webhook-off'];
    show(
      req,
      res,
      'Settings',
      settingsPage({
        hostname: nameOf(pageHost(res)),
        label: pageHost(res).name,
        base: baseOf(res),
        ...(session.account ? { accountEmail: session.account.email } : {}),
        csrf: session.csrf,
        ...(notice && !webhookNotice && !forms.password ? { password: { notice } } : {}),
        ...rest,
        webhook: {
          csrf: session.csrf,
          base: baseOf(res),
          url,
          last,
          now: new Date(),
          ...(newSecret === undefined ? {} : { newSecret }),
          ...(webhook ? { form: webhook } : webhookNotice && notice ? { form: { notice } } : {}),
        },
      }),
      status,
    );
  };
  router.get(
    '/dashboard/settings',
    requireHost,
    asyncHandler((req, res) => renderSettings(req, res)),
  );
  router.get('/dashboard/settings/webhook', requireHost, redirectTo('/dashboard/settings'));
  // Setting a URL answers with the page itself, its new secret in it (shown once, as a new token);
  // switching it off is a redirect with a notice, as the other forms.
  router.post(
    '/dashboard/settings/webhook',
    form,
    requireHost,
    checkCsrf,
    asyncHandler(async (req, res) => {
      const host = pageHost(res);
      if (field(req.body, 'clear') === 'yes') {
        await services.webhooks.clear(host.id);
        return res.redirect(303, `${baseOf(res)}/dashboard/settings?notice=webhook-off#webhook`);
      }
      const typed = field(req.body, 'url').trim();
      try {
        const url = await services.webhooks.check(typed);
        if (url === null) throw new Error('a form never sends null');
        const newSecret = await services.webhooks.set(host.id, url);
        res.locals.logger.info('webhook set', { host: nameOf(host) });
        await renderSettings(req, res, { newSecret });
      } catch (error) {
        const { problem, status } = mistake(error, {});
        await renderSettings(req, res, { webhook: { values: { url: typed }, problem } }, status);
      }
    }),
  );
  router.get('/dashboard/settings/password', requireHost, redirectTo('/dashboard/settings'));
  router.get('/dashboard/settings/delete', requireHost, redirectTo('/dashboard/settings'));

  router.post(
    '/dashboard/settings/password',
    form,
    requireHost,
    checkCsrf,
    asyncHandler(async (req, res) => {
      const session = sessionOf(res);
      // An account's host has no password of its own: the account's is changed on the account's page.
      if (session.account) return res.redirect(303, '/account/settings#change-password');
      const host = await hosts.get(nameOf(pageHost(res)));
      const changed = await changePasswordFromForm(req, {
        check: (secret) => checkPassword(res, session, secret, 'current', 'The current password is wrong.'),
        // Ends every other session of the host.
        change: (password) =>
          hosts.changePassword(host, password, {
            keepSession: session,
            owner: services.authenticator.limitKey(res.locals.client),
          }),
        fail: (problem, status) => renderSettings(req, res, { password: { problem } }, status),
      });
      if (!changed) return;
      res.locals.logger.info('password changed', { host: host.name });
      res.redirect(303, `${baseOf(res)}/dashboard/settings?notice=password-changed`);
    }),
  );

  router.post(
    '/dashboard/settings/delete',
    form,
    requireHost,
    checkCsrf,
    asyncHandler(async (req, res) => {
      const session = sessionOf(res);
      const host = await hosts.get(nameOf(pageHost(res)));
      const name = nameOf(host);
      const typed = field(req.body, 'confirm').trim().toLowerCase();
      const fail = (problem: Problem, status = 400) =>
        renderSettings(req, res, { deletion: { problem, values: { confirm: typed } } }, status);
      if (typed !== name && typed !== host.name)
        return fail({ text: `Type ${name} or ${host.name} to delete it.`, field: 'confirm-name' });
      const wrong = await checkPassword(
        res,
        session,
        field(req.body, 'password'),
        'delete-password',
        'The password is wrong.',
      );
      if (wrong) return fail(wrong.problem, wrong.status);
      await hosts.remove(host);
      res.locals.logger.info('host deleted', { host: host.name });
      // The account lives on without it; a host's own session has nothing left to show.
      if (session.account) return res.redirect(303, '/account?notice=host-deleted');
      await sessions.end(req, res);
      res.locals.session = undefined;
      page(
        req,
        res,
        'Deleted',
        messagePage(`${name} is deleted`, 'Its records have left DNS and the name is free again.', {
          href: '/',
          label: 'Home',
        }),
      );
    }),
  );
}
