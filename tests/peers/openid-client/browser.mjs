// The user's browser, played with plain fetch: redirects followed by hand (so the relying
// party can stop at its own redirect URI without fetching it) and a small cookie jar, in
// case the broker keeps the login in a cookie.

const NAVIGATION_ACCEPT = 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8';

/** Enough for any login round trip; more means a redirect loop. */
const MAX_REDIRECTS = 10;

export class Browser {
  constructor() {
    /** host -> Map(cookie name -> value); path and expiry do not matter for one short login. */
    this.cookies = new Map();
    /** "STATUS METHOD URL" of every response, oldest first, for failure messages. */
    this.history = [];
  }

  async get(url) {
    return this.#send(url, { method: 'GET' });
  }

  async postForm(url, fields) {
    return this.#send(url, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams(fields).toString(),
    });
  }

  /**
   * Follows redirects from `page` until a page that is not one, or until a redirect
   * whose target satisfies `stopAt(url)` (returned as { stoppedAt: URL }, not fetched).
   */
  async followRedirects(page, stopAt = () => false) {
    for (let i = 0; i <= MAX_REDIRECTS; i++) {
      if (!page.location) return page;
      if (stopAt(page.location)) return { ...page, stoppedAt: page.location };
      page = await this.get(page.location);
    }
    throw new Error(`more than ${MAX_REDIRECTS} redirects:\n${this.historyText()}`);
  }

  historyText() {
    return this.history.join('\n');
  }

  async #send(url, init) {
    url = new URL(url);
    const headers = { accept: NAVIGATION_ACCEPT, ...(init.headers ?? {}) };
    const cookie = this.#cookieHeader(url);
    if (cookie) headers.cookie = cookie;
    const response = await fetch(url, {
      ...init,
      headers,
      redirect: 'manual',
      signal: AbortSignal.timeout(30_000),
    });
    for (const setCookie of response.headers.getSetCookie()) this.#store(url, setCookie);
    const body = await response.text();
    this.history.push(`${response.status} ${init.method} ${redactQuery(url)}`);
    const rawLocation = response.status >= 300 && response.status < 400 ? response.headers.get('location') : null;
    return {
      status: response.status,
      url,
      body,
      location: rawLocation ? new URL(rawLocation, url) : null,
    };
  }

  #cookieHeader(url) {
    const jar = this.cookies.get(url.host);
    if (!jar || jar.size === 0) return null;
    return [...jar].map(([name, value]) => `${name}=${value}`).join('; ');
  }

  #store(url, setCookie) {
    const [pair, ...attributes] = setCookie.split(';');
    const eq = pair.indexOf('=');
    if (eq <= 0) return;
    const name = pair.slice(0, eq).trim();
    const value = pair.slice(eq + 1).trim();
    const expired = attributes.some((a) => /^\s*max-age\s*=\s*(0|-\d+)\s*$/i.test(a));
    if (!this.cookies.has(url.host)) this.cookies.set(url.host, new Map());
    const jar = this.cookies.get(url.host);
    if (expired || value === '') jar.delete(name);
    else jar.set(name, value);
  }
}

/** A URL for messages: the query's names only, since its values may be codes or states. */
export function redactQuery(url) {
  const names = [...new URL(url).searchParams.keys()];
  return `${url.origin}${url.pathname}${names.length ? `?${names.join('&')}` : ''}`;
}
