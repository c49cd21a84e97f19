/** @jsxRuntime automatic @jsxImportSource preact */
import { CsrfField, Layout } from './layout.tsx';
import type { Viewer } from './layout.tsx';

export interface PasswordPageProps {
  csrf: string;
  viewer: Viewer;
  error?: string | undefined;
  notice?: string | undefined;
  minLength: number;
  maxLength: number;
}

/** Change password: the current one, the new one twice. */
export function PasswordPage({ csrf, viewer, error, notice, minLength, maxLength }: PasswordPageProps) {
  return (
    <Layout title="Change password" csrf={csrf} viewer={viewer}>
      <section class="card narrow" aria-labelledby="password-title">
        <h1 id="password-title">Change password</h1>
        {notice && !error && (
          <p class="notice" role="status">
            {notice}
          </p>
        )}
        {error && (
          <p class="error" role="alert" id="password-error">
            {error}
          </p>
        )}
        <form method="post" action="/account/password" aria-describedby={error ? 'password-error' : undefined}>
          <CsrfField token={csrf} />
          <label for="currentPassword">Current password</label>
          <input id="currentPassword" name="currentPassword" type="password" autoComplete="current-password" required maxLength={1024} />
          <label for="newPassword">New password</label>
          <input
            id="newPassword"
            name="newPassword"
            type="password"
            autoComplete="new-password"
            required
            minLength={minLength}
            aria-describedby="password-rules"
          />
          <p class="help" id="password-rules">
            {minLength} to {maxLength} characters; spaces and any characters are welcome. Very common passwords are refused.
          </p>
          <label for="confirmation">Confirm new password</label>
          <input id="confirmation" name="confirmation" type="password" autoComplete="new-password" required />
          <p class="help">Your other sessions are signed out when the password changes.</p>
          <button type="submit">Change password</button>
        </form>
      </section>
    </Layout>
  );
}
