/** @jsxRuntime automatic @jsxImportSource preact */
import { CsrfField, Layout } from './layout.tsx';
import { SecurityKeyScripts } from './mfa.tsx';

export interface LoginPageProps {
  csrf: string;
  error?: string | undefined;
  accountId?: string | undefined;
  username?: string | undefined;
  notice?: string | undefined;
  /** Sent here by an application: its name and account, whose number is then not asked. */
  application?: { name: string; accountName: string } | undefined;
  /** Offer "Sign in with a passkey" (on a plain sign-in page it asks for the account number first). */
  passkey?: boolean | undefined;
}

export function LoginPage({ csrf, error, accountId, username, notice, application, passkey = true }: LoginPageProps) {
  return (
    <Layout title="Sign in" csrf={csrf}>
      <section class="card narrow" aria-labelledby="signin-title">
        <h1 id="signin-title">Sign in</h1>
        {application && (
          <p class="context">
            to continue to <strong>{application.name}</strong> · {application.accountName}
          </p>
        )}
        {notice && !error && (
          <p class="notice" role="status">
            {notice}
          </p>
        )}
        {error && (
          <p class="error" role="alert" id="signin-error">
            {error}
          </p>
        )}
        <form method="post" action="/login" aria-describedby={error ? 'signin-error' : undefined}>
          <CsrfField token={csrf} />
          {!application && (
            <>
              <label for="accountId">Account number</label>
              <input
                id="accountId"
                name="accountId"
                inputMode="numeric"
                autoComplete="organization"
                required
                maxLength={20}
                value={accountId ?? ''}
              />
            </>
          )}
          <label for="username">Username</label>
          <input id="username" name="username" autoComplete="username" required maxLength={64} value={username ?? ''} />
          <label for="password">Password</label>
          <input id="password" name="password" type="password" autoComplete="current-password" required maxLength={1024} />
          <button type="submit">Sign in</button>
        </form>
        {passkey && (
          <>
            {/* Hidden until the browser half (/assets/webauthn-client.js) finds WebAuthn; the form above works without it. */}
            <form
              method="post"
              action="/login/passkey"
              data-webauthn="/api/v1/login/passkey/options"
              data-webauthn-account={application ? undefined : 'accountId'}
              data-webauthn-failed="Your passkey did not answer, or the request was cancelled. Try again, or sign in with your password."
              class="security-key passkey"
              hidden
            >
              <CsrfField token={csrf} />
              <input type="hidden" name="credential" value="" />
              <button type="button" class="secondary" data-webauthn-start>
                Sign in with a passkey
              </button>
              <p class="error-text" aria-live="polite" data-webauthn-status />
            </form>
            <SecurityKeyScripts />
          </>
        )}
      </section>
    </Layout>
  );
}
