import { randomId } from '../domain/providers.ts';
import type { Application } from '../storage/records.ts';
import { audit } from './audit.ts';
import type { Deps } from './deps.ts';
import { inTransaction } from './deps.ts';
import { clientSecretHash } from './oidc/adapter.ts';
import type { Actor } from './users.ts';

// The OpenID Connect applications of an account (issue 13): registered by its
// admins (pages, API, CLI), each a client of the provider. A confidential
// client gets a secret of 256 random bits, shown once and stored as its
// SHA-256; a public client (a single-page or native app) has none and must
// use PKCE, as every client must here.

export type { Application };

export interface ApplicationDraft {
  name: string;
  redirectUris: string[];
  postLogoutRedirectUris?: string[] | undefined;
  backchannelLogoutUri?: string | null | undefined;
  launchUrl?: string | null | undefined;
  /** A public client has no secret. */
  public?: boolean | undefined;
}

const SECRET_BYTES = 32;
const MAX_URIS = 10;

function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '127.0.0.1' || host === '[::1]' || host.endsWith('.localhost');
}

/**
 * A URI an application may be sent to: absolute, http(s), no fragment
 * (RFC 6749 §3.1.2), https unless it is a loopback address (RFC 9700 §2.1;
 * RFC 8252 §7.3), no user information. Undefined when it is acceptable.
 */
export function uriProblem(label: string, value: string): string | undefined {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return `${label} must be an absolute URL (https://…).`;
  }
  if (value.length > 2000) return `${label} is too long (2,000 characters at most).`;
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return `${label} must start with https://.`;
  if (url.protocol === 'http:' && !isLoopback(url.host.replace(/:\d+$/, ''))) return `${label} must use https:// (http:// only for localhost).`;
  if (url.hash || value.includes('#')) return `${label} must not have a fragment (#…).`;
  if (url.username || url.password) return `${label} must not hold a user name or password.`;
  return undefined;
}

export type Checked<T> = { ok: true; value: T } | { ok: false; reason: 'invalid'; errors: string[] };

type ValidDraft = Required<Omit<ApplicationDraft, 'public'>> & { public: boolean };

export function validateApplication(draft: ApplicationDraft): Checked<ValidDraft> {
  const errors: string[] = [];
  const name = draft.name.trim();
  if (name.length === 0 || name.length > 100) errors.push('Name: 1 to 100 characters.');
  const redirectUris = [...new Set(draft.redirectUris.map((u) => u.trim()).filter((u) => u !== ''))];
  if (redirectUris.length === 0) errors.push('Add at least one redirect URI.');
  if (redirectUris.length > MAX_URIS) errors.push(`At most ${MAX_URIS} redirect URIs.`);
  for (const uri of redirectUris) {
    const problem = uriProblem('A redirect URI', uri);
    if (problem) errors.push(`${problem} (${uri})`);
  }
  const postLogoutRedirectUris = [...new Set((draft.postLogoutRedirectUris ?? []).map((u) => u.trim()).filter((u) => u !== ''))];
  if (postLogoutRedirectUris.length > MAX_URIS) errors.push(`At most ${MAX_URIS} post-logout redirect URIs.`);
  for (const uri of postLogoutRedirectUris) {
    const problem = uriProblem('A post-logout redirect URI', uri);
    if (problem) errors.push(`${problem} (${uri})`);
  }
  const backchannel = draft.backchannelLogoutUri?.trim() || null;
  if (backchannel) {
    const problem = uriProblem('The back-channel logout URI', backchannel);
    if (problem) errors.push(problem);
  }
  const launch = draft.launchUrl?.trim() || null;
  if (launch) {
    const problem = uriProblem('The launch URL', launch);
    if (problem) errors.push(problem);
  }
  if (errors.length > 0) return { ok: false, reason: 'invalid', errors };
  return {
    ok: true,
    value: { name, redirectUris, postLogoutRedirectUris, backchannelLogoutUri: backchannel, launchUrl: launch, public: draft.public === true },
  };
}

function newSecret(deps: Pick<Deps, 'random'>): string {
  return Buffer.from(deps.random.bytes(SECRET_BYTES)).toString('base64url');
}

export type CreateApplicationResult =
  | { ok: true; clientId: string; clientSecret: string | null }
  | { ok: false; reason: 'invalid'; errors: string[] }
  | { ok: false; reason: 'not_found' };

export async function createApplication(deps: Deps, accountId: string, draft: ApplicationDraft, actor: Actor): Promise<CreateApplicationResult> {
  const checked = validateApplication(draft);
  if (!checked.ok) return checked;
  const v = checked.value;
  const clientId = randomId(deps.random);
  const clientSecret = v.public ? null : newSecret(deps);
  return inTransaction(deps, async (tx) => {
    if (!(await tx.store.accounts.get(accountId))) return { ok: false as const, reason: 'not_found' as const };
    const now = deps.clock.now();
    await tx.store.applications.create({
      id: clientId,
      accountId,
      name: v.name,
      secretHash: clientSecret === null ? null : clientSecretHash(clientSecret),
      redirectUris: v.redirectUris,
      postLogoutRedirectUris: v.postLogoutRedirectUris,
      backchannelLogoutUri: v.backchannelLogoutUri,
      launchUrl: v.launchUrl,
      createdAt: now,
      updatedAt: now,
    });
    await audit(tx, {
      accountId,
      actor: actor.label,
      actorUserId: actor.userId,
      action: 'application.created',
      target: v.name,
      ip: actor.ip,
      result: 'success',
      detail: { clientId, public: v.public, redirectUris: v.redirectUris },
    });
    return { ok: true as const, clientId, clientSecret };
  });
}

/** An application as the API and the CLI show it: never its secret or the secret's hash. */
export function describeApplication(a: Application) {
  return {
    clientId: a.id,
    name: a.name,
    public: a.secretHash === null,
    redirectUris: a.redirectUris,
    postLogoutRedirectUris: a.postLogoutRedirectUris,
    backchannelLogoutUri: a.backchannelLogoutUri,
    launchUrl: a.launchUrl,
    createdAt: new Date(a.createdAt).toISOString(),
    updatedAt: new Date(a.updatedAt).toISOString(),
  };
}

export async function listApplications(deps: Pick<Deps, 'store'>, accountId: string): Promise<Application[]> {
  return deps.store.applications.list(accountId);
}

export type ApplicationResult = { ok: true } | { ok: false; reason: 'not_found' };

export async function deleteApplication(deps: Deps, accountId: string, clientId: string, actor: Actor): Promise<ApplicationResult> {
  return inTransaction(deps, async (tx) => {
    const app = await tx.store.applications.get(accountId, clientId);
    if (!app) return { ok: false as const, reason: 'not_found' as const };
    await tx.store.applications.delete(accountId, clientId);
    await audit(tx, {
      accountId,
      actor: actor.label,
      actorUserId: actor.userId,
      action: 'application.deleted',
      target: app.name,
      ip: actor.ip,
      result: 'success',
      detail: { clientId },
    });
    return { ok: true as const };
  });
}

/** A new secret for a confidential application; the old one stops working at once. Shown once. */
export async function rotateApplicationSecret(
  deps: Deps,
  accountId: string,
  clientId: string,
  actor: Actor,
): Promise<{ ok: true; clientSecret: string } | { ok: false; reason: 'not_found' | 'public_client' }> {
  return inTransaction(deps, async (tx) => {
    const app = await tx.store.applications.get(accountId, clientId);
    if (!app) return { ok: false as const, reason: 'not_found' as const };
    if (app.secretHash === null) return { ok: false as const, reason: 'public_client' as const };
    const clientSecret = newSecret(deps);
    await tx.store.applications.update(accountId, clientId, { secretHash: clientSecretHash(clientSecret) }, deps.clock.now());
    await audit(tx, {
      accountId,
      actor: actor.label,
      actorUserId: actor.userId,
      action: 'application.secret_rotated',
      target: app.name,
      ip: actor.ip,
      result: 'success',
      detail: { clientId },
    });
    return { ok: true as const, clientSecret };
  });
}

export type UpdateApplicationResult = { ok: true } | { ok: false; reason: 'invalid'; errors: string[] } | { ok: false; reason: 'not_found' };

/**
 * Changes an application's name and addresses, with the same rules as
 * createApplication. Whether it is public is fixed at creation: a secret
 * cannot be given or taken away here (rotate it, or register a new client).
 */
export async function updateApplication(
  deps: Deps,
  accountId: string,
  clientId: string,
  draft: Omit<ApplicationDraft, 'public'>,
  actor: Actor,
): Promise<UpdateApplicationResult> {
  const checked = validateApplication(draft);
  if (!checked.ok) return checked;
  const v = checked.value;
  return inTransaction(deps, async (tx) => {
    const app = await tx.store.applications.get(accountId, clientId);
    if (!app) return { ok: false as const, reason: 'not_found' as const };
    await tx.store.applications.update(
      accountId,
      clientId,
      {
        name: v.name,
        redirectUris: v.redirectUris,
        postLogoutRedirectUris: v.postLogoutRedirectUris,
        backchannelLogoutUri: v.backchannelLogoutUri,
        launchUrl: v.launchUrl,
      },
      deps.clock.now(),
    );
    await audit(tx, {
      accountId,
      actor: actor.label,
      actorUserId: actor.userId,
      action: 'application.updated',
      target: v.name,
      ip: actor.ip,
      result: 'success',
      detail: { clientId, redirectUris: v.redirectUris },
    });
    return { ok: true as const };
  });
}

export async function getApplication(deps: Pick<Deps, 'store'>, accountId: string, clientId: string): Promise<Application | undefined> {
  return deps.store.applications.get(accountId, clientId);
}

/** The home page's launcher: the account's applications that have a launch URL, by name. */
export async function launchableApplications(deps: Pick<Deps, 'store'>, accountId: string): Promise<Array<{ name: string; launchUrl: string }>> {
  const apps = await deps.store.applications.list(accountId);
  return apps.flatMap((a) => (a.launchUrl === null ? [] : [{ name: a.name, launchUrl: a.launchUrl }]));
}
