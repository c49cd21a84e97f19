/** @jsxRuntime automatic @jsxImportSource preact */
import type { AuditEvent } from '../../services/audit.ts';
import { Layout } from './layout.tsx';
import type { Viewer } from './layout.tsx';
import { formatTime } from './format.ts';
import { visibleText } from '../../domain/visible-text.ts';

export const auditActions: Array<[string, string]> = [
  ['', 'All actions'],
  ['sign_in.password', 'Password sign-in'],
  ['sign_in.passkey', 'Passkey sign-in'],
  ['sign_in.locked', 'Password lock'],
  ['mfa.verify', 'Code verification'],
  ['mfa.enroll', 'Authenticator enrolled'],
  ['mfa.locked', 'Code lock'],
  ['mfa.reset', 'Reset MFA'],
  ['mfa.step_up', 'Step-up'],
  ['factor.add', 'Factor added by its user'],
  ['factor.rename', 'Factor renamed by its user'],
  ['factor.remove', 'Factor removed by its user'],
  ['recovery_codes.regenerate', 'New recovery codes'],
  ['mfa.browser_remembered', 'Browser remembered'],
  ['mfa.browser_forgotten', 'Remembered browser forgotten'],
  ['session.end', 'Sessions signed out by their user'],
  ['account.mfa_enabled', 'MFA switched on'],
  ['account.mfa_disabled', 'MFA switched off'],
  ['account.remember_browser', 'Remember this browser changed'],
  ['account.create', 'Account created'],
  ['user.create', 'User created'],
  ['user.update', 'User changed'],
  ['user.password_change', 'Password changed by its user'],
  ['user.password_reset_issued', 'Reset password link sent'],
  ['user.password_reset', 'Password set with a reset link'],
  ['user.import', 'Users imported'],
  ['skill.create', 'Skill created'],
];

function describe(detail: Record<string, unknown> | null): string {
  if (!detail) return '';
  return Object.entries(detail)
    .map(([k, v]) => `${k}: ${typeof v === 'number' && k.endsWith('Until') ? formatTime(v) : String(v)}`)
    .join(', ');
}

/**
 * A name as the entry records it. At a failed sign-in for a username the
 * account does not have, actor and target are what was typed, by anyone who
 * knows the account number: marked as such, in quotes, with hidden characters
 * shown, so "mallory (admin) reset MFA for everyone" cannot pass for a user
 * or an entry (issue 16, finding 6). <bdi> keeps right-to-left letters from
 * reordering the cell around it (HTML, §4.5.23).
 */
function Name({ name, userId, action }: { name: string | null; userId: string | null; action: string }) {
  if (name === null) return <>—</>;
  if (userId === null && action.startsWith('sign_in.')) {
    return (
      <>
        unknown user “<bdi>{visibleText(name)}</bdi>”
      </>
    );
  }
  return <bdi>{visibleText(name)}</bdi>;
}

export interface AuditPageProps {
  csrf: string;
  viewer: Viewer;
  events: AuditEvent[];
  users: Array<{ id: string; username: string }>;
  userId: string;
  action: string;
  page: number;
  hasMore: boolean;
}

export function AuditPage({ csrf, viewer, events, users, userId, action, page, hasMore }: AuditPageProps) {
  const link = (n: number) => `/manage/audit?${new URLSearchParams({ user: userId, action, page: String(n) }).toString()}`;
  return (
    <Layout title="Audit log" csrf={csrf} viewer={viewer}>
      <h1>Audit log</h1>
      <form method="get" action="/manage/audit" class="filters">
        <div>
          <label for="audit-user">User</label>
          <select id="audit-user" name="user">
            <option value="">All users</option>
            {users.map((u) => (
              <option value={u.id} selected={u.id === userId}>
                {u.username}
              </option>
            ))}
          </select>
        </div>
        <div>
          <label for="audit-action">Action</label>
          <select id="audit-action" name="action">
            {auditActions.map(([value, label]) => (
              <option value={value} selected={value === action}>
                {label}
              </option>
            ))}
          </select>
        </div>
        <button type="submit">Filter</button>
      </form>
      <table>
        <caption class="sr-only">Audit events, newest first</caption>
        <thead>
          <tr>
            <th scope="col">When</th>
            <th scope="col">Who</th>
            <th scope="col">What</th>
            <th scope="col">Whom</th>
            <th scope="col">From</th>
            <th scope="col">Result</th>
            <th scope="col">Details</th>
          </tr>
        </thead>
        <tbody>
          {events.length === 0 && (
            <tr>
              <td colSpan={7}>No events match.</td>
            </tr>
          )}
          {events.map((e) => (
            <tr>
              <td data-label="When">{formatTime(e.at)}</td>
              <td data-label="Who">
                <Name name={e.actor} userId={e.actorUserId} action={e.action} />
              </td>
              <td data-label="What">{auditActions.find(([v]) => v === e.action)?.[1] ?? e.action}</td>
              <td data-label="Whom">
                <Name name={e.target} userId={e.targetUserId} action={e.action} />
              </td>
              <td data-label="From">{e.ip ?? '—'}</td>
              <td data-label="Result">{e.result === 'success' ? 'Success' : 'Failure'}</td>
              <td data-label="Details">{describe(e.detail)}</td>
            </tr>
          ))}
        </tbody>
      </table>
      <nav aria-label="Pages" class="pager">
        <span>Page {page}</span>
        {page > 1 && <a href={link(page - 1)}>Newer events</a>}
        {hasMore && <a href={link(page + 1)}>Older events</a>}
      </nav>
    </Layout>
  );
}
