/** @jsxRuntime automatic @jsxImportSource preact */
import { roles } from '../../domain/roles.ts';
import { factorTypeLabels, mfaFilters as filterValues } from '../../domain/mfa-state.ts';
import type { MfaFilterName } from '../../domain/mfa-state.ts';
import type { Skill, UserPage } from '../../services/user-directory.ts';
import { CsrfField, Layout } from './layout.tsx';
import type { Viewer } from './layout.tsx';
import { FactorTypes, MfaStatus, roleLabels } from './user-parts.tsx';
import { stateLabel } from './format.ts';

// The two other user pages, re-exported: routes/user-pages.tsx imports all three from here.
export { EditUserPage } from './edit-user.tsx';
export { ResetConfirmPage } from './reset-mfa.tsx';

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

const mfaLabels: Record<MfaFilterName, string> = { not_enrolled: 'None', enrolled: 'Any factor', locked: 'Locked', ...factorTypeLabels };
const mfaFilters: Array<[string, string]> = [['', 'All users'], ...filterValues.map((value): [string, string] => [value, mfaLabels[value]])];

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
              <td data-label="Username">
                <a href={`/manage/users/${u.id}`}>{u.username}</a>
              </td>
              <td data-label="Role">{roleLabels[u.role]}</td>
              <td data-label="Skills">{u.skills.join(', ') || '—'}</td>
              <td data-label="State">{stateLabel(u)}</td>
              <td data-label="MFA">
                <MfaStatus mfa={u.mfa} />
                <FactorTypes types={u.factorTypes} />
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
