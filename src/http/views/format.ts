/** A moment as the pages show it: `2026-01-31 09:05 UTC`, to the minute, in UTC. */
export function formatTime(ms: number): string {
  return new Date(ms).toISOString().replace('T', ' ').slice(0, 16) + ' UTC';
}

/** A user's state as Users & Skills shows it: "Disabled — inactive since 2026-01-31" when the inactivity rule disabled them. */
export function stateLabel(user: { state: 'active' | 'disabled'; inactiveSince: number | null }): string {
  if (user.state === 'active') return 'Active';
  return user.inactiveSince === null ? 'Disabled' : `Disabled — inactive since ${new Date(user.inactiveSince).toISOString().slice(0, 10)}`;
}
