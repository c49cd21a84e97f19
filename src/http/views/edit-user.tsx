/** @jsxRuntime automatic @jsxImportSource preact */
import { roles } from '../../domain/roles.ts';
import type { Skill, UserDetail } from '../../services/user-directory.ts';
import { factorTypeLabels } from '../../domain/mfa-state.ts';
import { formatTime, stateLabel } from './format.ts';
import { CsrfField, Layout } from './layout.tsx';
import type { Viewer } from './layout.tsx';
import { ResetMfaDialog } from './reset-mfa.tsx';
import { ForgetBrowsersSection } from './remember-browser.tsx';
import { MfaStatus, roleLabels } from './user-parts.tsx';

export interface EditUserProps {
  csrf: string;
  viewer: Viewer;
  user: UserDetail;
  skills: Skill[];
  notice?: string | undefined;
  errors?: string[] | undefined;
  /** How many browsers skip the code for the user (Remember this browser); the section is left out when undefined. */
  rememberedBrowsers?: number | undefined;
}

export function EditUserPage({ csrf, viewer, user, skills, notice, errors, rememberedBrowsers }: EditUserProps) {
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
                {stateLabel(user)}
              </option>
            </select>
            {user.inactiveSince !== null && user.state === 'disabled' && <p class="help">Disabled by the inactivity rule of Account Access Control. Choose Active and save to enable them again.</p>}
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
              </>
            )}
            {user.factors.length > 0 && (
              <>
                <dt>Recovery codes left</dt>
                <dd>{user.recoveryCodesLeft}</dd>
              </>
            )}
          </dl>
          {user.factors.length > 0 && (
            <table class="factors">
              <caption>Factors of {user.username}</caption>
              <thead>
                <tr>
                  <th scope="col">Type</th>
                  <th scope="col">Name</th>
                  <th scope="col">Added</th>
                  <th scope="col">Last used</th>
                </tr>
              </thead>
              <tbody>
                {user.factors.map((f) => (
                  <tr>
                    <td data-label="Type">{factorTypeLabels[f.type]}</td>
                    <td data-label="Name">{f.name}</td>
                    <td data-label="Added">{formatTime(f.createdAt)}</td>
                    <td data-label="Last used">{f.lastUsedAt === null ? 'Never' : formatTime(f.lastUsedAt)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
          <p>
            <a class="button danger" href={`/manage/users/${user.id}/reset-mfa`} data-dialog="reset-mfa-dialog">
              Reset MFA
            </a>
          </p>
          <ResetMfaDialog csrf={csrf} user={user} />
        </section>
        {rememberedBrowsers !== undefined && <ForgetBrowsersSection csrf={csrf} userId={user.id} username={user.username} count={rememberedBrowsers} />}
        <section class="card" aria-labelledby="password-title">
          <h2 id="password-title">Password</h2>
          <p>
            Send {user.username} a link to set a new password: it works once, for 24 hours, and signs them out everywhere when used.{' '}
            {user.email ? `It is e-mailed to ${user.email}.` : 'They have no e-mail address: the link is shown to you once, to pass on.'}
          </p>
          <form method="post" action={`/manage/users/${user.id}/reset-password`}>
            <CsrfField token={csrf} />
            <button type="submit" class="danger">
              Reset password
            </button>
          </form>
        </section>
      </div>
      <script src="/app.js" defer />
    </Layout>
  );
}
