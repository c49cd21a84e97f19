/** @jsxRuntime automatic @jsxImportSource preact */
import { formatTime } from './format.ts';
import { CsrfField, Layout } from './layout.tsx';
import type { Viewer } from './layout.tsx';

// Reset password: the link shown to the admin once, and the page the link opens.

/** Shown once to the admin who sent a link to a user without an e-mail address. */
export function ResetLinkPage(props: { csrf: string; viewer: Viewer; userId: string; username: string; link: string; expiresAt: number }) {
  const { csrf, viewer, userId, username, link, expiresAt } = props;
  return (
    <Layout title="Reset password link" csrf={csrf} viewer={viewer}>
      <section class="card narrow" aria-labelledby="link-title">
        <h1 id="link-title">Reset password link</h1>
        <p class="notice" role="status">
          {username} has no e-mail address. Give them this link: it is shown only now, works once, and expires at {formatTime(expiresAt)}.
        </p>
        <label for="reset-link">Link for {username}</label>
        <input id="reset-link" type="text" readOnly value={link} />
        <p>
          <a href={`/manage/users/${userId}`}>Back to {username}</a>
        </p>
      </section>
    </Layout>
  );
}

/** The page a live link opens: a new password, twice. */
export function SetPasswordPage(props: { csrf: string; action: string; username: string; accountName: string; minLength: number; maxLength: number; error?: string | undefined }) {
  const { csrf, action, username, accountName, minLength, maxLength, error } = props;
  return (
    <Layout title="Set a new password" csrf={csrf}>
      <section class="card narrow" aria-labelledby="set-title">
        <h1 id="set-title">Set a new password</h1>
        <p>
          For <strong>{username}</strong> at {accountName}. All your sessions are signed out when it is set.
        </p>
        {error && (
          <p class="error" role="alert" id="set-error">
            {error}
          </p>
        )}
        <form method="post" action={action} aria-describedby={error ? 'set-error' : undefined}>
          <CsrfField token={csrf} />
          <label for="newPassword">New password</label>
          <input id="newPassword" name="newPassword" type="password" autoComplete="new-password" required minLength={minLength} aria-describedby="set-rules" />
          <p class="help" id="set-rules">
            {minLength} to {maxLength} characters; spaces and any characters are welcome. Very common passwords are refused.
          </p>
          <label for="confirmation">Confirm new password</label>
          <input id="confirmation" name="confirmation" type="password" autoComplete="new-password" required />
          <button type="submit">Set password</button>
        </form>
      </section>
    </Layout>
  );
}
