import { Type } from '@fastify/type-provider-typebox';
import type { TLiteral, TSchema, TUnion } from '@fastify/type-provider-typebox';
import { ID_PATTERN } from '../domain/ids.ts';
import { factorTypes } from '../domain/auth-methods.ts';
import { mfaFilters, mfaStates } from '../domain/mfa-state.ts';

export const ErrorBody = Type.Object({ error: Type.String(), message: Type.String() }, { additionalProperties: true });
export const TooMany = Type.Object({ error: Type.Literal('too_many_attempts'), message: Type.String(), retryAfter: Type.Integer() });
/** 503: a part the request needs failed for a moment (a hashing thread lost); nothing changed, try again. */
export const Unavailable = Type.Object({ error: Type.Literal('unavailable'), message: Type.String(), retryAfter: Type.Integer() });

/** An id we issued, as a path or query parameter: anything else is a 400 before a query runs. */
export const Id = Type.String({ pattern: ID_PATTERN });
export const IdParams = Type.Object({ id: Id });

/**
 * One of a list of strings, typed as that list's union. (Type.Union of a
 * mapped array alone types its values as never, which accepts anything.)
 */
export function oneOf<const T extends readonly string[]>(values: T): TUnion<Literals<T>> {
  return Type.Union(values.map((value) => Type.Literal(value))) as unknown as TUnion<Literals<T>>;
}
type Literals<T extends readonly string[]> = Extract<{ -readonly [K in keyof T]: TLiteral<T[K]> }, TSchema[]>;

/** A user's MFA state, from the domain's one list. */
export const MfaStateName = oneOf(mfaStates);
/** A type of factor (`totp`: an authenticator app; `webauthn`: a security key or passkey). */
export const FactorTypeName = oneOf(factorTypes);
/** What the users list filters by: an MFA state, or a type of factor the user holds. */
export const MfaFilterName = oneOf(mfaFilters);

/** What every admin operation shares in the OpenAPI document. */
export const adminOperation = { security: [{ session: [] }], tags: ['admin'] };
