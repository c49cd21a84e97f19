/** @jsxRuntime automatic @jsxImportSource preact */
import { CsrfField, Layout } from './layout.tsx';
import type { Viewer } from './layout.tsx';

export interface CodeFormProps {
  csrf: string;
  error?: string | undefined;
  /** Where the form posts; the sign-in's /login/mfa or a step-up form. */
  action?: string;
  recovery?: boolean;
  /** Fields carried through the form; a list is sent as repeated fields (checkboxes). */
  hidden?: Record<string, string | string[]>;
}

/** The code field: labelled, numeric keypad on phones, filled by the OS from SMS/app where it can. */
export function CodeForm({ csrf, error, action = '/login/mfa', recovery = false, hidden = {} }: CodeFormProps) {
  return (
    <form method="post" action={action} aria-describedby={error ? 'code-error' : undefined}>
      <CsrfField token={csrf} />
      {Object.entries(hidden).flatMap(([name, value]) => (Array.isArray(value) ? value : [value]).map((v) => <input type="hidden" name={name} value={v} />))}
      {/* Which kind of code this form carries: the server never guesses it from the code's shape. */}
      <input type="hidden" name="method" value={recovery ? 'recovery_code' : 'totp'} />
      {error && (
        <p class="error" role="alert" id="code-error">
          {error}
        </p>
      )}
      {recovery ? (
        <>
          <label for="code">Recovery code</label>
          <input id="code" name="code" autoComplete="off" autoCapitalize="characters" spellcheck={false} required maxLength={64} />
        </>
      ) : (
        <>
          <label for="code">Authentication code</label>
          <input
            id="code"
            name="code"
            inputMode="numeric"
            autoComplete="one-time-code"
            pattern="[0-9 \-]*"
            required
            maxLength={16}
            aria-describedby="code-help"
          />
          <p id="code-help" class="help">
            The six-digit code your authenticator app shows now.
          </p>
        </>
      )}
      <button type="submit">Verify</button>
    </form>
  );
}

/**
 * A security key ceremony as a form: hidden until the browser half
 * (/assets/webauthn-client.js) finds WebAuthn, which asks `options` for the
 * ceremony, runs it and posts the browser's answer here as `credential`.
 */
export function SecurityKeyForm({ csrf, label, action = '/login/mfa', options = '/api/v1/login/mfa/webauthn/options' }: { csrf: string; label: string; action?: string; options?: string }) {
  return (
    <form method="post" action={action} data-webauthn={options} class="security-key" hidden>
      <CsrfField token={csrf} />
      <input type="hidden" name="method" value="webauthn" />
      <input type="hidden" name="credential" value="" />
      <button type="button" data-webauthn-start>
        {label}
      </button>
      <p class="error-text" role="status" data-webauthn-status />
    </form>
  );
}

/** The browser half of WebAuthn, from our own origin, for pages that offer a security key. */
export function SecurityKeyScripts() {
  return (
    <>
      <script src="/assets/webauthn.js" defer />
      <script src="/assets/webauthn-client.js" defer />
    </>
  );
}

/** An authenticator app's enrolment: the QR code and the same secret as a link and as text. */
export interface AppOffer {
  qrDataUrl: string;
  /** The otpauth:// URI, as a link for the phone that holds the app (it cannot scan its own screen). */
  uri: string;
  manualKey: string;
}

export interface SetupPageProps {
  csrf: string;
  /** Undefined when the account does not let this user use an authenticator app (Account Access Control). */
  app: AppOffer | undefined;
  /** Whether a security key or passkey may be set up instead (or, without an app, only that). */
  keyAllowed: boolean;
  issuer: string;
  username: string;
  error?: string | undefined;
}

export function SetupPage({ csrf, app, keyAllowed, issuer, username, error }: SetupPageProps) {
  return (
    <Layout title="Set up multi-factor authentication" csrf={csrf}>
      <section class="card" aria-labelledby="setup-title">
        <h1 id="setup-title">Set up multi-factor authentication</h1>
        {app ? (
          <>
            <p>
              {issuer} requires a code from an authenticator app (Google Authenticator, Microsoft Authenticator, Authy…) when you
              sign in.
            </p>
            <ol class="steps">
              <li class="scan">
                <p>Scan this QR code with the authenticator app on your phone.</p>
                <p class="open-app">
                  On the phone with the app? <a href={app.uri}>Open in your authenticator app</a>
                </p>
                <img class="qr" src={app.qrDataUrl} width={240} height={240} alt={`QR code to add ${issuer}: ${username} to an authenticator app`} />
                <details>
                  <summary>Can’t scan it? Enter the key by hand</summary>
                  <p>
                    Account: <strong>{`${issuer}: ${username}`}</strong>
                  </p>
                  <p>
                    Key: <code class="key" aria-label="Setup key">{app.manualKey}</code>
                  </p>
                  <p class="help">Time-based, 6 digits, every 30 seconds.</p>
                </details>
              </li>
              <li>
                <p>Enter the six-digit code the app shows.</p>
                <CodeForm csrf={csrf} error={error} />
              </li>
            </ol>
            {keyAllowed && <SecurityKeyForm csrf={csrf} label="Use a security key or passkey instead" />}
          </>
        ) : (
          <>
            <p>{issuer} requires a security key or passkey when you sign in: press the button below, then touch the key or confirm on your device.</p>
            {error && (
              <p class="error" role="alert" id="code-error">
                {error}
              </p>
            )}
            <SecurityKeyForm csrf={csrf} label="Set up a security key or passkey" />
            <p data-webauthn-fallback>Setting up a security key needs JavaScript and a browser that supports security keys.</p>
          </>
        )}
        <SignInAgain csrf={csrf} />
      </section>
      {keyAllowed && <SecurityKeyScripts />}
    </Layout>
  );
}

export function SignInAgain({ csrf }: { csrf: string }) {
  return (
    <form method="post" action="/logout" class="inline">
      <CsrfField token={csrf} />
      <button type="submit" class="link">
        Cancel and sign in again
      </button>
    </form>
  );
}

export interface VerifyPageProps {
  csrf: string;
  error?: string | undefined;
  recovery: boolean;
  /** What the user holds: an authenticator app (the code field), a security key (its button). */
  hasApp: boolean;
  hasKey: boolean;
}

export function VerifyPage({ csrf, error, recovery, hasApp, hasKey }: VerifyPageProps) {
  const keyOnly = hasKey && !hasApp && !recovery;
  return (
    <Layout title="Verify your identity" csrf={csrf}>
      <section class="card narrow" aria-labelledby="verify-title">
        <h1 id="verify-title">Verify your identity</h1>
        {recovery ? (
          <p>Enter one of the recovery codes you saved when you set up your authenticator. Each code works once.</p>
        ) : hasApp ? (
          <p>Open your authenticator app and enter the code it shows.</p>
        ) : (
          <p>Use your security key or passkey: press the button below, then touch the key or confirm on your device.</p>
        )}
        {keyOnly && error && (
          <p class="error" role="alert" id="code-error">
            {error}
          </p>
        )}
        {hasKey && !recovery && <SecurityKeyForm csrf={csrf} label="Use your security key" />}
        {keyOnly && (
          // Hidden by the browser half once it finds WebAuthn; shown without JavaScript or WebAuthn.
          <p data-webauthn-fallback>Your security key needs JavaScript and a browser that supports security keys. Without them, use a recovery code.</p>
        )}
        {!keyOnly && <CodeForm csrf={csrf} error={error} recovery={recovery} />}
        <p>
          {recovery ? (
            <a href="/login/mfa">{hasApp ? 'Use your authenticator app instead' : 'Use your security key instead'}</a>
          ) : (
            <a href="/login/mfa?method=recovery">Use a recovery code instead</a>
          )}
        </p>
        <SignInAgain csrf={csrf} />
      </section>
      {hasKey && <SecurityKeyScripts />}
    </Layout>
  );
}

/** next: where the session goes on (src/http/next-step.ts). */
export function RecoveryCodesPage({
  csrf,
  codes,
  next = '/',
  factor = 'Your authenticator app',
}: {
  csrf: string;
  codes: string[];
  next?: string;
  factor?: string;
}) {
  const text = `Portcullis recovery codes\n${codes.join('\n')}\n`;
  return (
    <Layout title="Save your recovery codes" csrf={csrf}>
      <section class="card narrow" aria-labelledby="codes-title">
        <h1 id="codes-title">Save your recovery codes</h1>
        <p class="notice" role="status">
          {`${factor} is set up.`}
        </p>
        <p>
          If you lose your phone, each of these codes signs you in once. Keep them somewhere safe: <strong>they are shown only now</strong>.
        </p>
        <label for="recovery-codes">Recovery codes</label>
        <textarea id="recovery-codes" class="codes" readOnly rows={codes.length} cols={16}>
          {codes.join('\n')}
        </textarea>
        <p>
          <a download="portcullis-recovery-codes.txt" href={`data:text/plain;charset=utf-8,${encodeURIComponent(text)}`}>
            Download recovery codes
          </a>
        </p>
        <p>
          <a class="button" href={next}>
            Continue
          </a>
        </p>
      </section>
    </Layout>
  );
}

/** Step-up: a current code before a sensitive action (ASVS 4.0.3 V4.3.1). */
export function StepUpPage(props: { csrf: string; viewer: Viewer; action: string; what: string; fields?: Record<string, string | string[]> | undefined; error?: string | undefined }) {
  const { csrf, viewer, action, what, fields, error } = props;
  return (
    <Layout title="Confirm it’s you" csrf={csrf} viewer={viewer}>
      <section class="card narrow" aria-labelledby="stepup-title">
        <h1 id="stepup-title">Confirm it’s you</h1>
        <p>To {what}, enter the current code from your authenticator app.</p>
        <CodeForm csrf={csrf} error={error} action={action} hidden={{ ...fields, confirm: '1' }} />
      </section>
    </Layout>
  );
}
