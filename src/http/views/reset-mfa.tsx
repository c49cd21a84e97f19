/** @jsxRuntime automatic @jsxImportSource preact */
import type { UserDetail } from '../../services/user-directory.ts';
import { CsrfField, Layout } from './layout.tsx';
import type { Viewer } from './layout.tsx';

// Reset MFA's confirmation: a dialog on Edit user, and the same question as a page.

/** What Reset MFA does, asked the same way in the dialog and on the no-JavaScript page. */
function ResetQuestion({ id, username }: { id?: string; username: string }) {
  return (
    <p id={id}>
      Revoke the authenticator and recovery codes of <strong>{username}</strong> and sign them out everywhere? They will set up their
      authenticator app again at their next sign-in.
    </p>
  );
}

function ResetDeleteForm({ csrf, userId }: { csrf: string; userId: string }) {
  return (
    <form method="post" action={`/manage/users/${userId}/reset-mfa`}>
      <CsrfField token={csrf} />
      <button type="submit" class="danger">
        Delete
      </button>
    </form>
  );
}

export function ResetMfaDialog({ csrf, user }: { csrf: string; user: UserDetail }) {
  return (
    <dialog id="reset-mfa-dialog" aria-labelledby="reset-mfa-title" aria-describedby="reset-mfa-text">
      <h2 id="reset-mfa-title">Reset MFA</h2>
      <ResetQuestion id="reset-mfa-text" username={user.username} />
      <div class="actions">
        <ResetDeleteForm csrf={csrf} userId={user.id} />
        <form method="dialog">
          <button type="submit" class="secondary" value="cancel">
            Cancel
          </button>
        </form>
      </div>
    </dialog>
  );
}

/** The same confirmation as the dialog, as a page: the path that needs no JavaScript. */
export function ResetConfirmPage({ csrf, viewer, user }: { csrf: string; viewer: Viewer; user: UserDetail }) {
  return (
    <Layout title="Reset MFA" csrf={csrf} viewer={viewer}>
      <section class="card narrow" aria-labelledby="reset-title">
        <h1 id="reset-title">Reset MFA</h1>
        <ResetQuestion username={user.username} />
        <ResetDeleteForm csrf={csrf} userId={user.id} />
        <p>
          <a href={`/manage/users/${user.id}`}>Cancel</a>
        </p>
      </section>
    </Layout>
  );
}
