/**
 * A cookie-keeping HTTP client for the web pages, without a browser: what a
 * form post does, for tests that check the server's side of the pages.
 */
export interface WebClient {
  get(path: string): Promise<WebResponse>;
  /** Posts a form; the page's CSRF value is added unless `_csrf` is given; a list is a repeated field. */
  post(path: string, fields: Record<string, string | readonly string[]>): Promise<WebResponse>;
  readonly cookies: Map<string, string>;
  /** The `_csrf` value of the last page fetched. */
  csrf(): string;
}

export interface WebResponse {
  readonly status: number;
  readonly body: string;
  readonly headers: Headers;
}

export function unescapeHtml(text: string): string {
  return text
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'")
    .replace(/&amp;/g, '&');
}

/** The text of every `<code data-setup="id">` block of a dashboard page. */
export function setupsOf(page: string): Map<string, string> {
  const setups = new Map<string, string>();
  for (const match of page.matchAll(/<code [^>]*data-setup="([a-z0-9-]+)"[^>]*>([\s\S]*?)<\/code>/g)) {
    setups.set(match[1] ?? '', unescapeHtml(match[2] ?? ''));
  }
  return setups;
}

export function createWebClient(baseUrl: string, extraHeaders: Record<string, string> = {}): WebClient {
  const cookies = new Map<string, string>();
  let lastCsrf = '';
  const remember = (headers: Headers) => {
    for (const line of headers.getSetCookie()) {
      const [pair] = line.split(';');
      const at = pair?.indexOf('=') ?? -1;
      if (!pair || at === -1) continue;
      const name = pair.slice(0, at);
      const value = pair.slice(at + 1);
      if (/Max-Age=0/i.test(line) || value === '') cookies.delete(name);
      else cookies.set(name, value);
    }
  };
  const request = async (path: string, init: RequestInit): Promise<WebResponse> => {
    const cookie = [...cookies].map(([k, v]) => `${k}=${v}`).join('; ');
    const response = await fetch(`${baseUrl}${path}`, {
      ...init,
      redirect: 'manual',
      headers: {
        accept: 'text/html',
        ...extraHeaders,
        ...(cookie ? { cookie } : {}),
        ...(init.headers as Record<string, string>),
      },
    });
    remember(response.headers);
    const body = await response.text();
    const csrf = /name="_csrf" value="([^"]+)"/.exec(body)?.[1];
    if (csrf) lastCsrf = csrf;
    return { status: response.status, body, headers: response.headers };
  };
  return {
    cookies,
    csrf: () => lastCsrf,
    get: (path) => request(path, { method: 'GET' }),
    post: (path, fields) =>
      request(path, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams(
          Object.entries<string | readonly string[]>({ _csrf: lastCsrf, ...fields }).flatMap(
            ([name, value]): [string, string][] =>
              typeof value === 'string' ? [[name, value]] : value.map((one) => [name, one]),
          ),
        ).toString(),
      }),
  };
}
