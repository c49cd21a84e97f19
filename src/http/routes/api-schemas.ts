import { Type } from '@fastify/type-provider-typebox';

export const ErrorBody = Type.Object({ error: Type.String(), message: Type.String() }, { additionalProperties: true });
export const TooMany = Type.Object({ error: Type.Literal('too_many_attempts'), message: Type.String(), retryAfter: Type.Integer() });
