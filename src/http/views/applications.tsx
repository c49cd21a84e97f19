/** @jsxRuntime automatic @jsxImportSource preact */
import type { Application } from '../../services/applications.ts';
import { Breadcrumbs } from './console.tsx';
import { CsrfField, Layout } from './layout.tsx';
import type { Viewer } from './layout.tsx';

// Manage → Management Console → Admin & Secure → Applications (issue 13).

const base = '/manage/console/applications';
const trail = (last: Array<[string, string | undefined]>): Array<[string, string | undefined]> => [
  ['Management Console', '/manage/console'],
  ['Admin & Secure', '/manage/console/admin-secure'],
  ...last,
];

export type ApplicationField = 'name' | 'redirectUris' | 'postLogoutRedirectUris' | 'backchannelLogoutUri' | 'launchUrl';

export interface ApplicationForm {
  name: string;
  redirectUris: string;
  postLogoutRedirectUris: string;
  backchannelLogoutUri: string;
  launchUrl: string;
  public: boolean;
  errors?: Partial<Record<ApplicationField, string[]>>;
}

export function applicationFormOf(a: Application): ApplicationForm {
  return {
    name: a.name,
    redirectUris: a.redirectUris.join('\n'),
    postLogoutRedirectUris: a.postLogoutRedirectUris.join('\n'),
    backchannelLogoutUri: a.backchannelLogoutUri ?? '',
    launchUrl: a.launchUrl ?? '',
    public: a.secretHash === null,
  };
}

export const emptyApplicationForm: ApplicationForm = { name: '', redirectUris: '', postLogoutRedirectUris: '', backchannelLogoutUri: '', launchUrl: '', public: false };

/** Sorts the service's messages to the field each is about. */
export function errorsByField(errors: string[]): Partial<Record<ApplicationField, string[]>> {
  const out: Partial<Record<ApplicationField, string[]>> = {};
  for (const e of errors) {
    const field: ApplicationField = e.startsWith('Name')
      ? 'name'
      : /post-logout/i.test(e)
        ? 'postLogoutRedirectUris'
        : /back-channel/i.test(e)
          ? 'backchannelLogoutUri'
          : /launch URL/i.test(e)
            ? 'launchUrl'
            : 'redirectUris';
    (out[field] ??= []).push(e);
  }
  return out;
}

function Notice({ text }: { text: string | undefined }) {
  return text ? (
    <p class="notice" role="status">
      {text}
    </p>
  ) : null;
}

export function ApplicationsPage(props: { csrf: string; viewer: Viewer; applications: Application[]; notice?: string | undefined }) {
  const { csrf, viewer, applications, notice } = props;
  return (
    <Layout title="Applications" csrf={csrf} viewer={viewer}>
      <Breadcrumbs trail={trail([['Applications', undefined]])} />
      <h1>Applications</h1>
      <Notice text={notice} />
      <p class="help">
        Applications whose users sign in through Portcullis (OpenID Connect), with this account’s password and MFA rules. They are
        first-party: users are not asked for consent.
      </p>
      <p>
        <a href={`${base}/new`} class="button">
          Add application
        </a>
      </p>
      {applications.length === 0 ? (
        <p>No applications yet.</p>
      ) : (
        <table>
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Client ID</th>
              <th scope="col">Type</th>
              <th scope="col">Redirect URIs</th>
            </tr>
          </thead>
          <tbody>
            {applications.map((a) => (
              <tr>
                <td>
                  <a href={`${base}/${a.id}`}>{a.name}</a>
                </td>
                <td>
                  <code>{a.id}</code>
                </td>
                <td>{a.secretHash === null ? 'Public' : 'Confidential'}</td>
                <td>
                  <ul class="plain">
                    {a.redirectUris.map((u) => (
                      <li>
                        <code>{u}</code>
                      </li>
                    ))}
                  </ul>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </Layout>
  );
}

function Field(props: { id: ApplicationField; label: string; help: string; value: string; multiline?: boolean; errors: string[] | undefined }) {
  const { id, label, help, value, multiline, errors } = props;
  const describedBy = `${id}-help${errors ? ` ${id}-error` : ''}`;
  const name = id === 'name' ? 'appName' : id;
  return (
    <div class="field">
      <label for={id}>{label}</label>
      {multiline ? (
        <textarea id={id} name={name} rows={3} spellcheck={false} aria-describedby={describedBy} aria-invalid={errors ? 'true' : undefined}>
          {value}
        </textarea>
      ) : (
        <input id={id} name={name} type={id === 'name' ? 'text' : 'url'} value={value} aria-describedby={describedBy} aria-invalid={errors ? 'true' : undefined} />
      )}
      {errors && (
        <ul id={`${id}-error`} class="error" role="alert">
          {errors.map((e) => (
            <li>{e}</li>
          ))}
        </ul>
      )}
      <p id={`${id}-help`} class="help">
        {help}
      </p>
    </div>
  );
}

export function ApplicationFormPage(props: { csrf: string; viewer: Viewer; form: ApplicationForm; clientId?: string | undefined; notice?: string | undefined }) {
  const { csrf, viewer, form, clientId, notice } = props;
  const editing = clientId !== undefined;
  const title = editing ? `Edit application ${form.name}` : 'Add application';
  const e = form.errors ?? {};
  return (
    <Layout title={title} csrf={csrf} viewer={viewer}>
      <Breadcrumbs trail={trail([['Applications', base], [editing ? form.name : 'Add application', undefined]])} />
      <h1>{editing ? form.name : 'Add application'}</h1>
      <Notice text={notice} />
      {editing && (
        <dl class="facts">
          <dt>Client ID</dt>
          <dd>
            <code>{clientId}</code>
          </dd>
          <dt>Type</dt>
          <dd>{form.public ? 'Public client (no secret, PKCE)' : 'Confidential client (with a secret)'}</dd>
        </dl>
      )}
      <form method="post" action={editing ? `${base}/${clientId}` : base} class="card">
        <CsrfField token={csrf} />
        <Field id="name" label="Name" help="What users see in their list of applications. 1 to 100 characters." value={form.name} errors={e.name} />
        <Field
          id="redirectUris"
          label="Redirect URIs"
          help="One a line, matched exactly. https:// (http:// only for localhost), no fragment."
          value={form.redirectUris}
          multiline
          errors={e.redirectUris}
        />
        <Field id="postLogoutRedirectUris" label="Post-logout redirect URIs" help="One a line; optional. Where the application may send users after signing out." value={form.postLogoutRedirectUris} multiline errors={e.postLogoutRedirectUris} />
        <Field id="backchannelLogoutUri" label="Back-channel logout URI" help="Optional. Portcullis posts a logout token here when a user’s session ends." value={form.backchannelLogoutUri} errors={e.backchannelLogoutUri} />
        <Field id="launchUrl" label="Launch URL" help="Optional. With one, the application is listed on its users’ home page, opening this address." value={form.launchUrl} errors={e.launchUrl} />
        {!editing && (
          <div class="check">
            <input type="checkbox" id="public" name="public" value="on" checked={form.public} aria-describedby="public-help" />
            <label for="public">Public client</label>
            <p id="public-help" class="help">
              For a single-page or native application that cannot keep a secret: it gets none, and must use PKCE.
            </p>
          </div>
        )}
        <button type="submit">{editing ? 'Save' : 'Add application'}</button>
      </form>
      {editing && (
        <section class="card">
          <h2>Secret and removal</h2>
          {!form.public && (
            <form method="post" action={`${base}/${clientId}/rotate-secret`}>
              <CsrfField token={csrf} />
              <p class="help">A new secret is shown once; the current one stops working at once.</p>
              <button type="submit">Rotate secret</button>
            </form>
          )}
          <p>
            <a href={`${base}/${clientId}/delete`}>Delete</a>
          </p>
        </section>
      )}
    </Layout>
  );
}

export function ApplicationSecretPage(props: { csrf: string; viewer: Viewer; name: string; clientId: string; clientSecret: string | null; created: boolean }) {
  const { csrf, viewer, name, clientId, clientSecret, created } = props;
  return (
    <Layout title={created ? 'Application added' : 'New secret'} csrf={csrf} viewer={viewer}>
      <Breadcrumbs trail={trail([['Applications', base], [name, undefined]])} />
      <h1>{created ? 'Application added' : 'New secret'}</h1>
      <dl class="facts">
        <dt>Client ID</dt>
        <dd>
          <code id="client-id">{clientId}</code>
        </dd>
        {clientSecret !== null && (
          <>
            <dt>Client secret</dt>
            <dd>
              <code id="client-secret">{clientSecret}</code>
            </dd>
          </>
        )}
      </dl>
      {clientSecret !== null ? (
        <p class="notice" role="status">
          Copy the secret now: it is shown only this once. {created ? '' : 'The previous secret no longer works.'}
        </p>
      ) : (
        <p>A public client has no secret: it signs in with PKCE.</p>
      )}
      <p>
        <a href={`${base}/${clientId}`}>Back to {name}</a>
      </p>
    </Layout>
  );
}

export function DeleteApplicationPage({ csrf, viewer, application }: { csrf: string; viewer: Viewer; application: Application }) {
  return (
    <Layout title={`Delete ${application.name}`} csrf={csrf} viewer={viewer}>
      <Breadcrumbs trail={trail([['Applications', base], [application.name, `${base}/${application.id}`], ['Delete', undefined]])} />
      <h1>Delete {application.name}?</h1>
      <p>
        Its users can no longer sign in to it through Portcullis, and its client ID <code>{application.id}</code> and secret stop working.
        This cannot be undone.
      </p>
      <form method="post" action={`${base}/${application.id}/delete`}>
        <CsrfField token={csrf} />
        <button type="submit" class="danger">
          Delete application
        </button>{' '}
        <a href={`${base}/${application.id}`}>Cancel</a>
      </form>
    </Layout>
  );
}
