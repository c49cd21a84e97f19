/** @jsxRuntime automatic @jsxImportSource preact */
import type { OwnFactor, OwnFactors } from '../../services/own-factors.ts';
import { CsrfField, Layout } from './layout.tsx';
import type { Viewer } from './layout.tsx';
import { formatTime } from './format.ts';
import { CodeForm, SecurityKeyScripts } from './mfa.tsx';

const typeNames: Record<OwnFactor['type'], string> = { totp: 'Authenticator app', webauthn: 'Security key or passkey' };

export interface SecurityPageProps {
  csrf: string;
  viewer: Viewer;
  /** The factors, the kinds the user may add, and whether a second factor is required (the last usable one then stays). */
  own: OwnFactors;
  notice?: string | undefined;
  error?: string | undefined;
}

/** "Your security": the user's own factors, with rename and remove, new recovery codes, another authenticator app or key. */
export function SecurityPage({ csrf, viewer, own, notice, error }: SecurityPageProps) {
  const { factors, kinds, required } = own;
  const usable = factors.filter((f) => f.allowed);
  const isLast = (f: OwnFactor) => required && f.allowed && usable.length === 1;
  return (
    <Layout title="Your security" csrf={csrf} viewer={viewer}>
      <h1>Your security</h1>
      <p>The second factors you sign in with: authenticator apps, security keys and passkeys. Each change is sent to you as a notice.</p>
      {notice && (
        <p class="notice" role="status">
          {notice}
        </p>
      )}
      {error && (
        <p class="error" role="alert">
          {error}
        </p>
      )}
      {factors.length === 0 ? (
        <p>You have no second factor yet.</p>
      ) : (
        <table>
          <caption class="sr-only">Your second factors</caption>
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Type</th>
              <th scope="col">Added</th>
              <th scope="col">Last used</th>
              <th scope="col">
                <span class="sr-only">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {factors.map((f) => (
              <tr>
                <td>{f.name}</td>
                <td>{f.allowed ? typeNames[f.type] : `${typeNames[f.type]} (not allowed by your account)`}</td>
                <td>{formatTime(f.createdAt)}</td>
                <td>{f.lastUsedAt === null ? 'Never' : formatTime(f.lastUsedAt)}</td>
                <td>
                  <form method="post" action={`/account/security/factors/${f.id}/rename`} class="inline">
                    <CsrfField token={csrf} />
                    <label for={`name-${f.id}`} class="sr-only">{`New name for ${f.name}`}</label>
                    <input id={`name-${f.id}`} name="name" value={f.name} required maxLength={64} />
                    <button type="submit">Rename</button>
                  </form>{' '}
                  {isLast(f) ? (
                    <span class="help">Your only factor: add another before removing it.</span>
                  ) : (
                    <form method="post" action={`/account/security/factors/${f.id}/remove`} class="inline">
                      <CsrfField token={csrf} />
                      <button type="submit" aria-label={`Remove ${f.name}`}>
                        Remove
                      </button>
                    </form>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <section aria-labelledby="add-title">
        <h2 id="add-title">Add a factor</h2>
        {kinds.includes('totp') && (
          <form method="post" action="/account/security/authenticator">
            <CsrfField token={csrf} />
            <button type="submit">Add an authenticator app</button>
          </form>
        )}
        {kinds.includes('webauthn') && (
          <p>
            <a href="/account/security/security-key">Add a security key or passkey</a>
          </p>
        )}
      </section>
      {usable.length > 0 && (
        <section aria-labelledby="codes-title">
          <h2 id="codes-title">Recovery codes</h2>
          <p>Lost your recovery codes, or used most of them? Make new ones: the earlier ones stop working, and the new ones are shown only once.</p>
          <form method="post" action="/account/security/recovery-codes">
            <CsrfField token={csrf} />
            <button type="submit">New recovery codes</button>
          </form>
        </section>
      )}
    </Layout>
  );
}

export interface AddAuthenticatorPageProps {
  csrf: string;
  viewer: Viewer;
  qrDataUrl: string;
  uri: string;
  manualKey: string;
  issuer: string;
  username: string;
  /** The name typed before a refused code, kept. */
  name?: string | undefined;
  error?: string | undefined;
}

/** Another authenticator app, as set-up adds the first: QR code, the key by hand, a name, the code and Verify. */
export function AddAuthenticatorPage({ csrf, viewer, qrDataUrl, uri, manualKey, issuer, username, name, error }: AddAuthenticatorPageProps) {
  return (
    <Layout title="Add an authenticator app" csrf={csrf} viewer={viewer}>
      <section class="card" aria-labelledby="add-app-title">
        <h1 id="add-app-title">Add an authenticator app</h1>
        <ol class="steps">
          <li class="scan">
            <p>Scan this QR code with the authenticator app.</p>
            <p class="open-app">
              On the phone with the app? <a href={uri}>Open in your authenticator app</a>
            </p>
            <img class="qr" src={qrDataUrl} width={240} height={240} alt={`QR code to add ${issuer}: ${username} to an authenticator app`} />
            <details>
              <summary>Can’t scan it? Enter the key by hand</summary>
              <p>
                Account: <strong>{`${issuer}: ${username}`}</strong>
              </p>
              <p>
                Key: <code class="key" aria-label="Setup key">{manualKey}</code>
              </p>
              <p class="help">Time-based, 6 digits, every 30 seconds.</p>
            </details>
          </li>
          <li>
            <p>Name it, so you can tell it apart (optional), and enter the six-digit code the app shows.</p>
            <CodeForm csrf={csrf} error={error} action="/account/security/authenticator/confirm">
              <label for="factor-name">Name</label>
              <input id="factor-name" name="name" value={name ?? ''} maxLength={64} placeholder="Authenticator app" autoComplete="off" />
            </CodeForm>
          </li>
        </ol>
        <p>
          <a href="/account/security">Cancel</a>
        </p>
      </section>
    </Layout>
  );
}

export interface AddSecurityKeyPageProps {
  csrf: string;
  viewer: Viewer;
  /** The user holds an authenticator app: a current code from it goes with the key. */
  askCode: boolean;
  name?: string | undefined;
  error?: string | undefined;
}

/**
 * A security key or passkey, added with the browser's WebAuthn ceremony: the
 * form stays hidden until the browser half (/assets/webauthn-client.js) finds
 * WebAuthn, which fetches the options, runs the ceremony and posts the answer
 * with the name and the current code typed here.
 */
export function AddSecurityKeyPage({ csrf, viewer, askCode, name, error }: AddSecurityKeyPageProps) {
  return (
    <Layout title="Add a security key or passkey" csrf={csrf} viewer={viewer}>
      <section class="card narrow" aria-labelledby="add-key-title">
        <h1 id="add-key-title">Add a security key or passkey</h1>
        {error && (
          <p class="error" role="alert" id="key-error">
            {error}
          </p>
        )}
        <p data-webauthn-fallback>Adding a security key needs JavaScript and a browser that supports security keys.</p>
        <form method="post" action="/account/security/security-key" data-webauthn="/api/v1/factors/webauthn/options" class="security-key" hidden>
          <CsrfField token={csrf} />
          <input type="hidden" name="credential" value="" />
          <label for="factor-name">Name</label>
          <input id="factor-name" name="name" value={name ?? ''} maxLength={64} placeholder="Security key" autoComplete="off" />
          {askCode && (
            <>
              <label for="code">Authentication code</label>
              <input id="code" name="code" inputMode="numeric" autoComplete="one-time-code" pattern="[0-9 \-]*" maxLength={16} aria-describedby="key-code-help" />
              <p id="key-code-help" class="help">
                The six-digit code your authenticator app shows now: it confirms it’s you.
              </p>
            </>
          )}
          <button type="button" data-webauthn-start>
            Add a security key
          </button>
          <p class="error-text" role="status" data-webauthn-status />
        </form>
        <p>
          <a href="/account/security">Cancel</a>
        </p>
      </section>
      <SecurityKeyScripts />
    </Layout>
  );
}
