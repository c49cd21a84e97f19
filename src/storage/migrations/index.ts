import type { Migration } from 'kysely';
import * as foundation from './001-foundation.ts';
import * as mfa from './002-mfa.ts';
import * as userSearch from './003-user-search.ts';
import * as nameSuffixes from './004-name-suffixes.ts';
import * as sessionClient from './005-session-client.ts';
import * as factors from './006-factors.ts';
import * as oidc from './007-oidc.ts';
import * as webauthn from './008-webauthn.ts';
import * as passwordResets from './009-password-resets.ts';
import * as accessRules from './010-access-rules.ts';
import * as factorPolicy from './011-factor-policy.ts';
import * as rememberedBrowsers from './012-remembered-browsers.ts';
import * as passkeyChallenges from './013-passkey-challenges.ts';

/** Every migration by the name it is recorded under; they run in the order of the names. */
export const migrations: Record<string, Migration> = {
  '001-foundation': foundation,
  '002-mfa': mfa,
  '003-user-search': userSearch,
  '004-name-suffixes': nameSuffixes,
  '005-session-client': sessionClient,
  '006-factors': factors,
  '007-oidc': oidc,
  '008-webauthn': webauthn,
  '009-password-resets': passwordResets,
  '010-access-rules': accessRules,
  '011-factor-policy': factorPolicy,
  '012-remembered-browsers': rememberedBrowsers,
  '013-passkey-challenges': passkeyChallenges,
};
