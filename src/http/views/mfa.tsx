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

export interface SetupPageProps {
  csrf: string;
  qrDataUrl: string;
  manualKey: string;
  issuer: string;
  username: string;
  error?: string | undefined;
}

export function SetupPage({ csrf, qrDataUrl, manualKey, issuer, username, error }: SetupPageProps) {
  return (
    <Layout title="Set up multi-factor authentication" csrf={csrf}>
      <section class="card" aria-labelledby="setup-title">
        <h1 id="setup-title">Set up multi-factor authentication</h1>
        <p>
          {issuer} requires a code from an authenticator app (Google Authenticator, Microsoft Authenticator, Authy…) when you sign
          in.
        </p>
        <ol class="steps">
          <li>
            <p>Scan this QR code with the authenticator app on your phone.</p>
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
            <p>Enter the six-digit code the app shows.</p>
            <CodeForm csrf={csrf} error={error} />
          </li>
        </ol>
        <SignInAgain csrf={csrf} />
      </section>
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

export function VerifyPage({ csrf, error, recovery }: { csrf: string; error?: string | undefined; recovery: boolean }) {
  return (
    <Layout title="Verify your identity" csrf={csrf}>
      <section class="card narrow" aria-labelledby="verify-title">
        <h1 id="verify-title">Verify your identity</h1>
        {recovery ? (
          <p>Enter one of the recovery codes you saved when you set up your authenticator. Each code works once.</p>
        ) : (
          <p>Open your authenticator app and enter the code it shows.</p>
        )}
        <CodeForm csrf={csrf} error={error} recovery={recovery} />
        <p>
          {recovery ? (
            <a href="/login/mfa">Use your authenticator app instead</a>
          ) : (
            <a href="/login/mfa?method=recovery">Use a recovery code instead</a>
          )}
        </p>
        <SignInAgain csrf={csrf} />
      </section>
    </Layout>
  );
}

/** next: where the session goes on (src/http/next-step.ts). */
export function RecoveryCodesPage({ csrf, codes, next = '/' }: { csrf: string; codes: string[]; next?: string }) {
  const text = `Portcullis recovery codes\n${codes.join('\n')}\n`;
  return (
    <Layout title="Save your recovery codes" csrf={csrf}>
      <section class="card narrow" aria-labelledby="codes-title">
        <h1 id="codes-title">Save your recovery codes</h1>
        <p class="notice" role="status">
          Your authenticator app is set up.
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
