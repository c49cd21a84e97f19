/** @jsxRuntime automatic @jsxImportSource preact */
import { rememberBrowserBounds } from '../../domain/remember-browser.ts';
import type { RememberedBrowserView } from '../../services/remembered-browsers.ts';
import { formatTime } from './format.ts';
import { CsrfField } from './layout.tsx';

// Remember this browser (issue 15): its setting on Account Access Control,
// the user's list on Your sessions, and the admin's button on Edit user.

export interface RememberForm {
  /** The field as saved or as just typed. */
  value: string;
  error?: string | undefined;
}

export function RememberBrowserSection({ csrf, form }: { csrf: string; form: RememberForm }) {
  const { min, max } = rememberBrowserBounds;
  return (
    <form method="post" action="/manage/console/account-access-control/remember-browser" class="card" id="remember-browser">
      <CsrfField token={csrf} />
      <fieldset>
        <legend>Remember this browser</legend>
        <div class="field">
          <label for="rememberBrowserDays">Don’t ask for a code on a remembered browser for (days)</label>
          <input
            id="rememberBrowserDays"
            name="rememberBrowserDays"
            type="number"
            inputMode="numeric"
            min={min}
            max={max}
            value={form.value}
            aria-describedby={`rememberBrowserDays-help${form.error ? ' rememberBrowserDays-error' : ''}`}
            aria-invalid={form.error ? 'true' : undefined}
          />
          {form.error && (
            <p id="rememberBrowserDays-error" class="error" role="alert">
              {form.error}
            </p>
          )}
          <p id="rememberBrowserDays-help" class="help">
            {min + 1} to {max} days; 0: off (the default). With it on, the code page offers “Don’t ask for a code on this browser”: that
            browser then signs its user in with the password alone, until the days are over. It trades the second factor for comfort on
            that browser: someone who learns the password and uses that browser needs no phone. Switching it off forgets every remembered
            browser of the account; lowering it shortens those already remembered.
          </p>
        </div>
        <button type="submit">Save remember this browser</button>
      </fieldset>
    </form>
  );
}

/** Your sessions: the browsers that skip the code, each with Forget. */
export function RememberedBrowsersList({ csrf, browsers }: { csrf: string; browsers: RememberedBrowserView[] }) {
  return (
    <section aria-labelledby="remembered-title">
      <h2 id="remembered-title">Remembered browsers</h2>
      {browsers.length === 0 ? (
        <p>No browser skips the code for you.</p>
      ) : (
        <>
          <p>These browsers sign you in without a code until the date shown. Forget any you do not use any more.</p>
          <table>
            <caption class="sr-only">Remembered browsers</caption>
            <thead>
              <tr>
                <th scope="col">Device</th>
                <th scope="col">Address</th>
                <th scope="col">Remembered</th>
                <th scope="col">Until</th>
                <th scope="col">
                  <span class="sr-only">Action</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {browsers.map((b) => (
                <tr>
                  <td>{b.device ?? 'Unknown device'}</td>
                  <td>{b.ip ?? '—'}</td>
                  <td>{formatTime(b.createdAt)}</td>
                  <td>{formatTime(b.expiresAt)}</td>
                  <td>
                    <form method="post" action="/account/sessions/forget-browser" class="inline">
                      <CsrfField token={csrf} />
                      <input type="hidden" name="browser" value={b.id} />
                      <button type="submit" aria-label={`Forget the remembered browser ${b.device ?? 'of an unknown device'} from ${b.ip ?? 'an unknown address'}`}>
                        Forget
                      </button>
                    </form>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </>
      )}
    </section>
  );
}

/** Edit user: how many browsers skip the code for the user, and the admin's way to end them. */
export function ForgetBrowsersSection({ csrf, userId, username, count }: { csrf: string; userId: string; username: string; count: number }) {
  return (
    <section class="card" aria-labelledby="remembered-title">
      <h2 id="remembered-title">Remembered browsers</h2>
      <p>
        {count === 0
          ? `No browser skips the code for ${username}.`
          : `${count} browser${count === 1 ? '' : 's'} sign${count === 1 ? 's' : ''} ${username} in without a code.`}
      </p>
      <form method="post" action={`/manage/users/${userId}/forget-browsers`}>
        <CsrfField token={csrf} />
        <button type="submit" class="danger">
          Forget remembered browsers
        </button>
      </form>
    </section>
  );
}
