import type { FastifyRequest } from 'fastify';
import type { Principal } from '../services/principal.ts';
import type { Actor } from '../services/users.ts';

/** Who the audit log names for a change a signed-in user makes, and from where. */
export function actorOf(principal: Principal, request: FastifyRequest): Actor {
  return { userId: principal.user.id, label: principal.user.username, ip: request.ip };
}
