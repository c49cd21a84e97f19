// Remember this browser (issue 15): after a correct code, a browser may skip
// the code at the next sign-ins of the same user for a number of days the
// account's admin chooses. The trade-off is in docs/security.md ("Remember
// this browser").

export const DAY = 24 * 60 * 60_000;

/** 0 is off (the default); at most 30 days, as issue 15 asks (Entra ID's like setting allows up to 365). */
export const rememberBrowserBounds = { min: 0, max: 30 } as const;

export type RememberDaysCheck = { ok: true; days: number } | { ok: false; message: string };

export function checkRememberDays(value: unknown): RememberDaysCheck {
  const { min, max } = rememberBrowserBounds;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    return { ok: false, message: `Remember this browser must be from ${min + 1} to ${max} days, or 0 for off.` };
  }
  return { ok: true, days: value };
}

/**
 * The earliest a remembered browser may have been remembered and still skip
 * the code: the account's current days back from now. Lowering the setting
 * thereby shortens every browser already remembered, without a write.
 */
export function rememberedNotBefore(days: number, now: number): number {
  return now - days * DAY;
}
