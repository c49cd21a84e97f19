import type { SessionView } from '../storage/queries/sessions.ts';

/**
 * Who a request acts as: a live session with its user and account. The HTTP
 * layer names it through this module so that it never imports storage; the
 * shape itself is the one storage reads in a single query.
 */
export type Principal = SessionView;
