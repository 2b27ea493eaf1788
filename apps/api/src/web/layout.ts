import { html, type SafeHtml } from './html.ts';

/**
 * The frame of every page. Server-rendered: the pages work without
 * JavaScript; /static/app.js (same origin, as the CSP demands) only adds
 * conveniences such as copy buttons and confirmation dialogs.
 */

export interface PageContext {
  readonly zone: string;
  readonly title: string;
  /** `hostname`: who is signed in (a hostname or an account's address); `href`: their page. */
  readonly signedIn?: { readonly hostname: string; readonly csrf: string; readonly href?: string };
}

export function layout(context: PageContext, body: SafeHtml): SafeHtml {
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${context.title} · MyDNS</title>
<link rel="icon" href="/favicon.ico" sizes="16x16 32x32 48x48">
<link rel="icon" href="/static/favicon.svg" type="image/svg+xml">
<link rel="stylesheet" href="/static/style.css">
<script src="/static/app.js" defer></script>
</head>
<body>
<header class="top">
  <a class="brand" href="/"><img src="/static/favicon.svg" alt="" width="24" height="24"> MyDNS</a>
  <nav aria-label="Account">
    ${
      context.signedIn
        ? html`<a class="who" href="${context.signedIn.href ?? '/dashboard'}">${context.signedIn.hostname}</a>
      <form method="post" action="/logout" class="inline">
        <input type="hidden" name="_csrf" value="${context.signedIn.csrf}">
        <button type="submit" class="link">Sign out</button>
      </form>`
        : html`<a href="/login">Sign in</a> <a href="/register" class="button small">Get a hostname</a>`
    }
  </nav>
</header>
<main>
${body}
</main>
<footer>MyDNS — free dynamic DNS under <strong>${context.zone}</strong>. Your address comes from your connection; your password is stored only as a bcrypt hash.</footer>
</body>
</html>`;
}
