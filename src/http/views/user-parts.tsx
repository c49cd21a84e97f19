/** @jsxRuntime automatic @jsxImportSource preact */
import type { FactorType } from '../../domain/auth-methods.ts';
import { factorTypeLabels } from '../../domain/mfa-state.ts';
import type { MfaState } from '../../services/user-directory.ts';
import { formatTime } from './format.ts';

// What the user pages (Users & Skills, Edit user) show alike.

export const roleLabels: Record<string, string> = { admin: 'Admin', 'agent-manager': 'Agent manager', agent: 'Agent' };

export function MfaStatus({ mfa }: { mfa: MfaState }) {
  if (mfa.kind === 'not_enrolled') return <span class="badge warn">Not enrolled</span>;
  if (mfa.kind === 'locked') return <span class="badge danger">Locked until {formatTime(mfa.until)}</span>;
  return <span class="badge ok">Enrolled since {formatTime(mfa.since).slice(0, 10)}</span>;
}

/** The types of factor a user holds, after the MFA badge: " · Authenticator app, Security key or passkey". */
export function FactorTypes({ types }: { types: readonly FactorType[] }) {
  if (types.length === 0) return null;
  return <span class="factor-types"> · {types.map((t) => factorTypeLabels[t]).join(', ')}</span>;
}
