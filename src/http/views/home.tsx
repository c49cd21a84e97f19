/** @jsxRuntime automatic @jsxImportSource preact */
import { Layout } from './layout.tsx';
import type { Viewer } from './layout.tsx';

const roleNames: Record<string, string> = { admin: 'Administrator', 'agent-manager': 'Agent manager', agent: 'Agent' };

export function HomePage({ csrf, viewer, applications = [] }: { csrf: string; viewer: Viewer; applications?: Array<{ name: string; launchUrl: string }> }) {
  return (
    <Layout title="Home" csrf={csrf} viewer={viewer}>
      <h1>Welcome, {viewer.username}</h1>
      <dl class="facts">
        <dt>Account</dt>
        <dd>
          {viewer.accountName} ({viewer.accountId})
        </dd>
        <dt>Role</dt>
        <dd>{roleNames[viewer.role] ?? viewer.role}</dd>
      </dl>
      {viewer.isAdmin ? (
        <p>Use the Manage menu to change account settings and manage users.</p>
      ) : (
        <p>You are signed in.</p>
      )}
      {applications.length > 0 && (
        <section aria-labelledby="apps-title">
          <h2 id="apps-title">Your applications</h2>
          <ul class="tiles launcher">
            {applications.map((a) => (
              <li>
                <a href={a.launchUrl}>{a.name}</a>
              </li>
            ))}
          </ul>
        </section>
      )}
      <ul>
        <li>
          <a href="/account/sessions">Your sessions</a>: where you are signed in, and a way to sign out the others.
        </li>
        <li>
          <a href="/account/security">Your security</a>: your authenticator apps and security keys, and new recovery codes.
        </li>
        <li>
          <a href="/account/password">Change password</a>
        </li>
      </ul>
    </Layout>
  );
}
