import { groupsOfFour, base32Encode } from '../domain/base32.ts';
import { otpauthUri } from '../domain/otpauth-uri.ts';
import { generateRecoveryCodes, hashRecoveryCode } from '../domain/recovery-codes.ts';
import { randomId } from '../domain/providers.ts';
import { standardTotp } from '../domain/totp.ts';
import type { SessionView } from '../storage/queries/sessions.ts';
import type { Store } from '../storage/store.ts';
import type { Deps } from './deps.ts';
import { totpContext } from './secret-box.ts';

export interface EnrolmentOffer {
  /** The otpauth:// URI the QR code encodes. */
  uri: string;
  /** The secret in base32, in groups of four, for typing by hand. */
  manualKey: string;
  secret: Uint8Array;
}

/**
 * The secret offered to a pending sign-in without an authenticator. Made on
 * the first visit and kept (sealed) on the pending session, so reloading the
 * page shows the same QR code; saved to the user only once a code proves the
 * app has it.
 */
export async function enrolmentOffer(deps: Deps, view: SessionView): Promise<EnrolmentOffer | undefined> {
  const context = totpContext(view.account.id, view.user.id);
  let sealed = view.session.enrollment;
  if (!sealed) {
    await deps.store.sessions.setEnrollment(view.session.id, deps.secrets.seal(deps.random.bytes(deps.settings.mfa.secretBytes), context));
    // Re-read: if another tab stored its secret first, that one wins.
    sealed = (await deps.store.sessions.view(view.session.id))?.session.enrollment ?? null;
    if (!sealed) return undefined;
  }
  const secret = deps.secrets.open(sealed, context);
  if (!secret) return undefined;
  return {
    uri: otpauthUri(view.account.name, view.user.username, secret, standardTotp),
    manualKey: groupsOfFour(base32Encode(secret)),
    secret,
  };
}

/**
 * Saves the proven secret as the user's authenticator, with the step of the
 * code that proved it already used, and a fresh set of recovery codes.
 * Answers the codes to show once, or undefined if the user has enrolled
 * meanwhile (the unique key on user_id decides a race).
 */
export async function saveAuthenticator(
  deps: Deps,
  store: Store,
  view: SessionView,
  step: number,
  drift: number,
  ip: string,
): Promise<string[] | undefined> {
  const sealed = view.session.enrollment;
  if (!sealed) return undefined;
  const now = deps.clock.now();
  const created = await store.authenticators.create({
    id: randomId(deps.random),
    accountId: view.account.id,
    userId: view.user.id,
    secret: sealed,
    ...standardTotp,
    lastUsedStep: step,
    driftSteps: drift,
    enrolledAt: now,
    enrolledIp: ip,
    lastUsedAt: now,
  });
  if (!created) return undefined;
  const codes = generateRecoveryCodes(deps.random);
  await store.recoveryCodes.replace(
    view.account.id,
    view.user.id,
    codes.map((code) => ({ id: randomId(deps.random), hash: hashRecoveryCode(view.user.id, code.replaceAll('-', '')) })),
  );
  return codes;
}
