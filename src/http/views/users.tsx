/** @jsxRuntime automatic @jsxImportSource preact */
import { roles } from '../../domain/roles.ts';
import { mfaStates } from '../../domain/mfa-state.ts';
import type { MfaStateName } from '../../domain/mfa-state.ts';
import type { MfaState, Skill, UserDetail, UserPage } from '../../services/user-directory.ts';
import { CsrfField, Layout } from './layout.tsx';
import type { Viewer } from './layout.tsx';

const roleLabels: Record<string, string> = { admin: 'Admin', 'agent-manager': 'Agent manager', agent: 'Agent' };

export function formatTime(ms: number): string {
  return new Date(ms).toISOString().replace('T', ' ').slice(0, 16) + ' UTC';
}

export function MfaStatus({ mfa }: { mfa: MfaState }) {
  if (mfa.kind === 'not_enrolled') return <span class="badge warn">Not enrolled</span>;
  if (mfa.kind === 'locked') return <span class="badge danger">Locked until {formatTime(mfa.until)}</span>;
  return <span class="badge ok">Enrolled since {formatTime(mfa.since).slice(0, 10)}</span>;
}

export interface UsersPageProps {
  csrf: string;
  viewer: Viewer;
  page: UserPage;
  search: string;
  mfa: string;
  skills: Skill[];
  notice?: string | undefined;
  error?: string | undefined;
}

const mfaLabels: Record<MfaStateName, string> = { not_enrolled: 'Not enrolled', enrolled: 'Enrolled', locked: 'Locked' };
const mfaFilters: Array<[string, string]> = [['', 'All users'], ...mfaStates.map((state): [string, string] => [state, mfaLabels[state]])];

export function UsersPage({ csrf, viewer, page, search, mfa, skills, notice, error }: UsersPageProps) {
  const link = (n: number) => `/manage/users?${new URLSearchParams({ q: search, mfa, page: String(n) }).toString()}`;
  return (
    <Layout title="Users & Skills" csrf={csrf} viewer={viewer}>
      <h1>Users &amp; Skills</h1>
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
      <form method="get" action="/manage/users" role="search" class="filters">
        <div>
          <label for="user-search">Search users</label>
          <input id="user-search" name="q" type="search" value={search} maxLength={64} />
        </div>
        <div>
          <label for="mfa-filter">MFA</label>
          <select id="mfa-filter" name="mfa">
            {mfaFilters.map(([value, label]) => (
              <option value={value} selected={value === mfa}>
                {label}
              </option>
            ))}
          </select>
        </div>
        <button type="submit">Filter</button>
      </form>
      <table>
        <caption class="sr-only">Users of this account</caption>
        <thead>
          <tr>
            <th scope="col">Username</th>
            <th scope="col">Role</th>
            <th scope="col">Skills</th>
            <th scope="col">State</th>
            <th scope="col">MFA</th>
          </tr>
        </thead>
        <tbody>
          {page.users.length === 0 && (
            <tr>
              <td colSpan={5}>No users match.</td>
            </tr>
          )}
          {page.users.map((u) => (
            <tr>
              <td>
                <a href={`/manage/users/${u.id}`}>{u.username}</a>
              </td>
              <td>{roleLabels[u.role]}</td>
              <td>{u.skills.join(', ') || '—'}</td>
              <td>{u.state === 'active' ? 'Active' : 'Disabled'}</td>
              <td>
                <MfaStatus mfa={u.mfa} />
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      <nav aria-label="Pages" class="pager">
        <span>
          {page.total} user{page.total === 1 ? '' : 's'} · page {page.page} of {page.pages}
        </span>
        {page.page > 1 && <a href={link(page.page - 1)}>Previous page</a>}
        {page.page < page.pages && <a href={link(page.page + 1)}>Next page</a>}
      </nav>

      <div class="columns">
        <section class="card" aria-labelledby="add-user-title">
          <h2 id="add-user-title">Add user</h2>
          <form method="post" action="/manage/users">
            <CsrfField token={csrf} />
            <label for="new-username">Username</label>
            <input id="new-username" name="username" required maxLength={64} autoComplete="off" />
            <label for="new-role">Role</label>
            <select id="new-role" name="role">
              {roles.map((r) => (
                <option value={r} selected={r === 'agent'}>
                  {roleLabels[r]}
                </option>
              ))}
            </select>
            <label for="new-email">Email (optional)</label>
            <input id="new-email" name="email" type="email" maxLength={320} autoComplete="off" />
            <label for="new-password">Initial password</label>
            <input id="new-password" name="password" type="password" required minLength={12} maxLength={128} autoComplete="new-password" />
            <fieldset>
              <legend>Skills</legend>
              {skills.length === 0 && <p class="help">No skills yet.</p>}
              {skills.map((s) => (
                <label class="inline-check">
                  <input type="checkbox" name="skills" value={s.id} /> {s.name}
                </label>
              ))}
            </fieldset>
            <button type="submit">Add user</button>
          </form>
        </section>
        <section class="card" aria-labelledby="skills-title">
          <h2 id="skills-title">Skills</h2>
          <ul>
            {skills.map((s) => (
              <li>{s.name}</li>
            ))}
          </ul>
          <form method="post" action="/manage/skills">
            <CsrfField token={csrf} />
            <label for="skill-name">New skill</label>
            <input id="skill-name" name="name" required maxLength={64} />
            <button type="submit">Create skill</button>
          </form>
        </section>
      </div>
    </Layout>
  );
}

export interface EditUserProps {
  csrf: string;
  viewer: Viewer;
  user: UserDetail;
  skills: Skill[];
  notice?: string | undefined;
  errors?: string[] | undefined;
}

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

export function EditUserPage({ csrf, viewer, user, skills, notice, errors }: EditUserProps) {
  return (
    <Layout title={`Edit user ${user.username}`} csrf={csrf} viewer={viewer}>
      <nav aria-label="Breadcrumb" class="crumbs">
        <ol>
          <li>
            <a href="/manage/users">Users &amp; Skills</a>
          </li>
          <li>
            <span aria-current="page">{user.username}</span>
          </li>
        </ol>
      </nav>
      <h1>Edit user</h1>
      {notice && (
        <p class="notice" role="status">
          {notice}
        </p>
      )}
      {errors && errors.length > 0 && (
        <div class="error" role="alert">
          <ul>
            {errors.map((e) => (
              <li>{e}</li>
            ))}
          </ul>
        </div>
      )}
      <div class="columns">
        <section class="card" aria-labelledby="details-title">
          <h2 id="details-title">{user.username}</h2>
          <form method="post" action={`/manage/users/${user.id}`}>
            <CsrfField token={csrf} />
            <label for="role">Role</label>
            <select id="role" name="role">
              {roles.map((r) => (
                <option value={r} selected={r === user.role}>
                  {roleLabels[r]}
                </option>
              ))}
            </select>
            <label for="state">State</label>
            <select id="state" name="state">
              <option value="active" selected={user.state === 'active'}>
                Active
              </option>
              <option value="disabled" selected={user.state === 'disabled'}>
                Disabled
              </option>
            </select>
            <label for="email">Email</label>
            <input id="email" name="email" type="email" value={user.email ?? ''} maxLength={320} />
            <fieldset>
              <legend>Skills</legend>
              {skills.length === 0 && <p class="help">No skills yet: create them on Users &amp; Skills.</p>}
              {skills.map((s) => (
                <label class="inline-check">
                  <input type="checkbox" name="skills" value={s.id} checked={user.skillIds.includes(s.id)} /> {s.name}
                </label>
              ))}
            </fieldset>
            <button type="submit">Save</button>
          </form>
        </section>
        <section class="card" aria-labelledby="mfa-title">
          <h2 id="mfa-title">Multi-factor authentication</h2>
          <dl class="facts">
            <dt>Status</dt>
            <dd>
              <MfaStatus mfa={user.mfa} />
            </dd>
            {user.mfa.kind !== 'not_enrolled' && (user.mfa.kind === 'enrolled' || user.mfa.enrolledSince !== null) && (
              <>
                <dt>Enrolled at</dt>
                <dd>{formatTime(user.mfa.kind === 'enrolled' ? user.mfa.since : (user.mfa.enrolledSince as number))}</dd>
                <dt>Enrolled from</dt>
                <dd>{user.enrolledIp ?? 'unknown'}</dd>
                <dt>Recovery codes left</dt>
                <dd>{user.recoveryCodesLeft}</dd>
              </>
            )}
          </dl>
          <p>
            <a class="button danger" href={`/manage/users/${user.id}/reset-mfa`} data-dialog="reset-mfa-dialog">
              Reset MFA
            </a>
          </p>
          <ResetMfaDialog csrf={csrf} user={user} />
        </section>
      </div>
      <script src="/app.js" defer />
    </Layout>
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
