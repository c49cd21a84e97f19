/**
 * Every id we issue (users, sessions, skills, audit events) is 16 random bytes
 * in lower-case hex (randomId in providers.ts). Input that claims to be an id
 * is checked against this before it reaches a query.
 */
export const ID_PATTERN = '^[0-9a-f]{32}$';

const ID = new RegExp(ID_PATTERN);

export function isId(value: unknown): value is string {
  return typeof value === 'string' && ID.test(value);
}
