/** @jsxRuntime automatic @jsxImportSource preact */
import type { OwnSession } from '../../services/own-sessions.ts';
import { CsrfField, Layout } from './layout.tsx';
import type { Viewer } from './layout.tsx';
import { formatTime } from './format.ts';
import { RememberedBrowsersList } from './remember-browser.tsx';
import type { RememberedBrowserView } from '../../services/remembered-browsers.ts';

export interface SessionsPageProps {
  csrf: string;
  viewer: Viewer;
  sessions: OwnSession[];
  notice?: string | undefined;
  /** The browsers that skip the code for this user (Remember this browser); the list is left out when undefined. */
  remembered?: RememberedBrowserView[] | undefined;
}

/** "Your sessions": where the user is signed in, with a way to end the others. */
export function SessionsPage({ csrf, viewer, sessions, notice, remembered }: SessionsPageProps) {
  const others = sessions.filter((s) => !s.current).length;
  return (
    <Layout title="Your sessions" csrf={csrf} viewer={viewer}>
      <h1>Your sessions</h1>
      <p>Where you are signed in now. If you do not recognise a session, sign it out and tell your administrator.</p>
      {notice && (
        <p class="notice" role="status">
          {notice}
        </p>
      )}
      <table>
        <caption class="sr-only">Your sessions</caption>
        <thead>
          <tr>
            <th scope="col">Device</th>
            <th scope="col">Address</th>
            <th scope="col">Signed in with</th>
            <th scope="col">Signed in</th>
            <th scope="col">Last active</th>
            <th scope="col">
              <span class="sr-only">Action</span>
            </th>
          </tr>
        </thead>
        <tbody>
          {sessions.map((s) => (
            <tr>
              <td>{s.device ?? 'Unknown device'}</td>
              <td>{s.ip ?? '—'}</td>
              <td>{s.signedInWith}</td>
              <td>{formatTime(s.createdAt)}</td>
              <td>{formatTime(s.lastSeenAt)}</td>
              <td>
                {s.current ? (
                  <strong>This session</strong>
                ) : (
                  <form method="post" action="/account/sessions/end" class="inline">
                    <CsrfField token={csrf} />
                    <input type="hidden" name="session" value={s.handle} />
                    <button type="submit" aria-label={`Sign out the session of ${s.device ?? 'an unknown device'} from ${s.ip ?? 'an unknown address'}`}>
                      Sign out
                    </button>
                  </form>
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {others > 0 && (
        <form method="post" action="/account/sessions/end-others">
          <CsrfField token={csrf} />
          <button type="submit">Sign out of all other sessions</button>
        </form>
      )}
      {remembered && <RememberedBrowsersList csrf={csrf} browsers={remembered} />}
    </Layout>
  );
}
