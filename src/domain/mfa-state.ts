/** Where a user stands with the second factor, as an admin lists, filters and sees it. */
export const mfaStates = ['not_enrolled', 'enrolled', 'locked'] as const;
export type MfaStateName = (typeof mfaStates)[number];

export function isMfaStateName(value: unknown): value is MfaStateName {
  return (mfaStates as readonly unknown[]).includes(value);
}
