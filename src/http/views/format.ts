/** A moment as the pages show it: `2026-01-31 09:05 UTC`, to the minute, in UTC. */
export function formatTime(ms: number): string {
  return new Date(ms).toISOString().replace('T', ' ').slice(0, 16) + ' UTC';
}
