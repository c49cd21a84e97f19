/** @jsxRuntime automatic @jsxImportSource preact */
import { Layout } from './layout.tsx';

// The provider's own pages, in our layout: the RP-initiated logout question
// (OpenID Connect RP-Initiated Logout 1.0 §2: the OP asks before it signs the
// user out), the page after it, and its error page. The error page shows the
// OAuth error code and the provider's description, never a stack.

/** form: the provider's form (id="op.logoutForm", its xsrf token hidden in it), embedded as it gives it. */
export function LogoutPage({ form, applicationName }: { form: string; applicationName: string | undefined }) {
  return (
    <Layout title="Sign out" csrf="">
      <section class="card narrow" aria-labelledby="logout-title">
        <h1 id="logout-title">Sign out of Portcullis?</h1>
        <p>
          {applicationName ? `${applicationName} signed you out. ` : ''}
          Signing out of Portcullis also signs you out of the other applications you opened with it.
        </p>
        <div dangerouslySetInnerHTML={{ __html: form }} />
        <div class="actions">
          <button type="submit" form="op.logoutForm" value="yes" name="logout">
            Sign out
          </button>
          <button type="submit" form="op.logoutForm" class="secondary">
            Stay signed in
          </button>
        </div>
      </section>
    </Layout>
  );
}

export function LoggedOutPage({ applicationName }: { applicationName: string | undefined }) {
  return (
    <Layout title="Signed out" csrf="">
      <section class="card narrow">
        <h1>Signed out</h1>
        <p role="status">{applicationName ? `You have been signed out of ${applicationName}.` : 'You have been signed out.'}</p>
        <p>
          <a href="/login">Sign in again</a>
        </p>
      </section>
    </Layout>
  );
}

export function OidcErrorPage({ error, description }: { error: string; description: string | undefined }) {
  return (
    <Layout title="Sign-in could not continue" csrf="">
      <section class="card narrow">
        <h1>Sign-in could not continue</h1>
        <p role="alert">{description ?? 'The application sent a request Portcullis cannot answer.'}</p>
        <p>
          Error code: <code>{error}</code>
        </p>
        <p>
          <a href="/">Go to the home page</a>
        </p>
      </section>
    </Layout>
  );
}
