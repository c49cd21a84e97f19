/** @jsxRuntime automatic @jsxImportSource preact */
import type { ComponentChildren } from 'preact';
import { CsrfField, Layout } from './layout.tsx';
import type { Viewer } from './layout.tsx';

export interface SettingEntry {
  title: string;
  section: string;
  href: string;
  description: string;
}

export function Breadcrumbs({ trail }: { trail: Array<[string, string | undefined]> }) {
  return (
    <nav aria-label="Breadcrumb" class="crumbs">
      <ol>
        {trail.map(([label, href]) => (
          <li>{href ? <a href={href}>{label}</a> : <span aria-current="page">{label}</span>}</li>
        ))}
      </ol>
    </nav>
  );
}

export function ConsolePage(props: { csrf: string; viewer: Viewer; query: string; results: SettingEntry[] | undefined }) {
  const { csrf, viewer, query, results } = props;
  return (
    <Layout title="Management Console" csrf={csrf} viewer={viewer}>
      <h1>Management Console</h1>
      <form method="get" action="/manage/console" role="search" class="search">
        <label for="settings-search">Search settings</label>
        <input id="settings-search" name="q" type="search" value={query} placeholder="e.g. MFA" maxLength={100} />
        <button type="submit">Search</button>
      </form>
      {results !== undefined && (
        <section aria-labelledby="results-title">
          <h2 id="results-title">Results for “{query}”</h2>
          {results.length === 0 ? (
            <p>No settings match “{query}”.</p>
          ) : (
            <ul class="results">
              {results.map((r) => (
                <li>
                  <a href={r.href}>{r.title}</a> <span class="muted">in {r.section}</span>
                  <p class="help">{r.description}</p>
                </li>
              ))}
            </ul>
          )}
        </section>
      )}
      <h2>Sections</h2>
      <ul class="tiles">
        <li>
          <a href="/manage/console/admin-secure">Admin &amp; Secure</a>
          <p class="help">Sign-in policy and security of this account.</p>
        </li>
        <li>
          <a href="/manage/users">Users &amp; Skills</a>
          <p class="help">People who sign in, their roles and skills.</p>
        </li>
        <li>
          <a href="/manage/audit">Audit log</a>
          <p class="help">Who did what, when and from where.</p>
        </li>
      </ul>
    </Layout>
  );
}

export function AdminSecurePage({ csrf, viewer }: { csrf: string; viewer: Viewer }) {
  return (
    <Layout title="Admin & Secure" csrf={csrf} viewer={viewer}>
      <Breadcrumbs trail={[['Management Console', '/manage/console'], ['Admin & Secure', undefined]]} />
      <h1>Admin &amp; Secure</h1>
      <ul class="tiles">
        <li>
          <a href="/manage/console/account-access-control">Account Access Control</a>
          <p class="help">Multi-factor authentication for every user of this account.</p>
        </li>
        <li>
          <a href="/manage/console/applications">Applications</a>
          <p class="help">The applications (OpenID Connect clients) whose users sign in through Portcullis.</p>
        </li>
        <li>
          <a href="/manage/audit">Audit log</a>
          <p class="help">Sign-ins, resets and setting changes.</p>
        </li>
      </ul>
    </Layout>
  );
}

export function AccessControlPage(props: { csrf: string; viewer: Viewer; mfaEnabled: boolean; notice?: string | undefined; children?: ComponentChildren }) {
  const { csrf, viewer, mfaEnabled, notice, children } = props;
  return (
    <Layout title="Account Access Control" csrf={csrf} viewer={viewer}>
      <Breadcrumbs
        trail={[
          ['Management Console', '/manage/console'],
          ['Admin & Secure', '/manage/console/admin-secure'],
          ['Account Access Control', undefined],
        ]}
      />
      <h1>Account Access Control</h1>
      {notice && (
        <p class="notice" role="status">
          {notice}
        </p>
      )}
      <form method="post" action="/manage/console/account-access-control" class="card">
        <CsrfField token={csrf} />
        <div class="check">
          <input type="checkbox" id="mfaEnabled" name="mfaEnabled" value="on" checked={mfaEnabled} aria-describedby="mfa-help" />
          <label for="mfaEnabled">Multi-factor authentication</label>
        </div>
        <p id="mfa-help" class="help">
          Every user of this account signs in with a password and a six-digit code from an authenticator app. Users who have not
          set one up are shown a QR code at their next sign-in. Switching it on signs out everyone who signed in without a code,
          you included: you will set up your own app straight away.
        </p>
        <button type="submit">Save</button>
      </form>
      {children}
    </Layout>
  );
}
