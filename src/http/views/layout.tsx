/** @jsxRuntime automatic @jsxImportSource preact */
import type { ComponentChildren } from 'preact';
import { render } from 'preact-render-to-string';
import type { VNode } from 'preact';

/** Who is looking at a page, as the header needs it. */
export interface Viewer {
  username: string;
  role: string;
  accountName: string;
  accountId: string;
  isAdmin: boolean;
}

export interface PageProps {
  title: string;
  csrf: string;
  viewer?: Viewer | undefined;
  children: ComponentChildren;
}

export function CsrfField({ token }: { token: string }) {
  return <input type="hidden" name="_csrf" value={token} />;
}

function ManageMenu() {
  // <details> opens and closes without JavaScript and is announced as a button.
  return (
    <details class="menu">
      <summary>Manage</summary>
      <ul>
        <li>
          <a href="/manage/console">Management Console</a>
        </li>
        <li>
          <a href="/manage/users">Users &amp; Skills</a>
        </li>
      </ul>
    </details>
  );
}

export function Layout({ title, csrf, viewer, children }: PageProps) {
  return (
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <title>{`${title} · Portcullis`}</title>
        <link rel="stylesheet" href="/style.css" />
      </head>
      <body>
        <a class="skip" href="#main">
          Skip to content
        </a>
        <header class="top">
          <a class="brand" href="/">
            Portcullis
          </a>
          {viewer && (
            <nav aria-label="Main">
              {viewer.isAdmin && <ManageMenu />}
              <span class="who">
                {viewer.username} · {viewer.accountName}
              </span>
              <form method="post" action="/logout" class="inline">
                <CsrfField token={csrf} />
                <button type="submit" class="link">
                  Sign out
                </button>
              </form>
            </nav>
          )}
        </header>
        <main id="main" tabIndex={-1}>
          {children}
        </main>
      </body>
    </html>
  );
}

export function renderPage(page: VNode): string {
  return `<!doctype html>${render(page)}`;
}
