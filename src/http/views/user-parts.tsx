/** @jsxRuntime automatic @jsxImportSource preact */
import type { MfaState } from '../../services/user-directory.ts';
import { formatTime } from './format.ts';

// What the user pages (Users & Skills, Edit user) show alike.

export const roleLabels: Record<string, string> = { admin: 'Admin', 'agent-manager': 'Agent manager', agent: 'Agent' };

export function MfaStatus({ mfa }: { mfa: MfaState }) {
  if (mfa.kind === 'not_enrolled') return <span class="badge warn">Not enrolled</span>;
  if (mfa.kind === 'locked') return <span class="badge danger">Locked until {formatTime(mfa.until)}</span>;
  return <span class="badge ok">Enrolled since {formatTime(mfa.since).slice(0, 10)}</span>;
}
