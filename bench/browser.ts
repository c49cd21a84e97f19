// A browser in miniature for the benchmark's OpenID Connect and page sign-ins:
// one cookie jar, redirects followed by hand, forms posted with their CSRF
// token. Over the keep-alive node:http agent of support.ts, not fetch: the load
// generator shares the two cores with the server.
import { request } from './support.ts';

export interface Answer {
  status: number;
  /** The URL answered, after the redirects followed on the server's own origin. */
  url: URL;
  /** Where a redirect left the server's origin to (the application's callback), if it did. */
  leftTo?: URL;
  text: string;
}

export class Browser {
  private readonly jar = new Map<string, string>();

  constructor(private readonly base: string) {}

  private keep(setCookie: string[] | undefined) {
    for (const line of setCookie ?? []) {
      const [pair = '', ...attrs] = line.split(';');
      const eq = pair.indexOf('=');
      const name = pair.slice(0, eq).trim();
      const value = pair.slice(eq + 1).trim();
      if (value === '' || attrs.some((a) => /^\s*max-age=0\s*$/i.test(a))) this.jar.delete(name);
      else this.jar.set(name, value);
    }
  }

  /** GET (or POST a form) and follow redirects on the server's origin. */
  async go(path: string | URL, form?: Record<string, string>): Promise<Answer> {
    let url = new URL(path, this.base);
    let body = form && new URLSearchParams(form).toString();
    for (let hops = 0; hops < 12; hops++) {
      const headers: Record<string, string> = { cookie: [...this.jar].map(([k, v]) => `${k}=${v}`).join('; ') };
      if (body !== undefined) Object.assign(headers, { 'content-type': 'application/x-www-form-urlencoded', origin: this.base });
      const res = await request(url.href, body === undefined ? 'GET' : 'POST', headers, body);
      this.keep(res.headers['set-cookie']);
      const location = res.headers.location;
      if (res.status < 300 || res.status >= 400 || !location) return { status: res.status, url, text: res.text };
      const next = new URL(location, url);
      if (next.origin !== url.origin) return { status: res.status, url, leftTo: next, text: res.text };
      url = next;
      body = undefined;
    }
    throw new Error(`too many redirects from ${String(path)}`);
  }

  /** Posts the page's form to action with its CSRF token. */
  submit(page: Answer, action: string, fields: Record<string, string>): Promise<Answer> {
    const csrf = /name="_csrf" value="([^"]+)"/.exec(page.text)?.[1];
    return this.go(action, { ...(csrf ? { _csrf: csrf } : {}), ...fields });
  }
}
