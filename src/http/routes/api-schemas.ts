import { Type } from '@fastify/type-provider-typebox';

export const ErrorBody = Type.Object({ error: Type.String(), message: Type.String() }, { additionalProperties: true });
export const TooMany = Type.Object({ error: Type.Literal('too_many_attempts'), message: Type.String(), retryAfter: Type.Integer() });
/** 503: a part the request needs failed for a moment (a hashing thread lost); nothing changed, try again. */
export const Unavailable = Type.Object({ error: Type.Literal('unavailable'), message: Type.String(), retryAfter: Type.Integer() });
