/** @jsxRuntime automatic @jsxImportSource preact */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { parseRangeLines, policyInput } from '../../domain/access-rules.ts';
import type { PolicyField, PolicyInput } from '../../domain/access-rules.ts';
import { accessRules, saveFactorPolicy, savePolicy, saveRestriction, serviceFloor } from '../../services/access-rules.ts';
import type { Deps } from '../../services/deps.ts';
import type { Principal } from '../../services/principal.ts';
import { principalOf } from '../access.ts';
import { csrfToken, formField, formFields } from '../forms.ts';
import type { RouteContext } from '../route-context.ts';
import { viewerOf } from '../viewer.ts';
import { AccessRulesSections, factorsFormOf, policyFormOf, restrictionFormOf } from '../views/access-rules.tsx';
import type { FactorsForm, PolicyForm, RestrictionForm } from '../views/access-rules.tsx';
import { setSessionCookie } from '../plugins/session.ts';
import { AccessControlPage } from '../views/console.tsx';
import { renderPage } from '../views/layout.tsx';

// Account Access Control's allowed networks and login policy (issue 15): the
// page's sections of their own, each posting to its own route.

const html = 'text/html; charset=utf-8';
const page = '/manage/console/account-access-control';

/** The whole Account Access Control page, with these sections as saved or as just typed. */
export async function sendAccessControlPage(
  deps: Deps,
  request: FastifyRequest,
  reply: FastifyReply,
  auth: Principal,
  status: number,
  overrides: { notice?: string | undefined; factors?: FactorsForm; restriction?: RestrictionForm; policy?: PolicyForm } = {},
): Promise<FastifyReply> {
  const rules = await accessRules(deps, auth.account.id);
  const csrf = csrfToken(request, reply);
  return reply
    .code(status)
    .type(html)
    .send(
      renderPage(
        <AccessControlPage csrf={csrf} viewer={viewerOf(auth)} mfaEnabled={auth.account.mfaEnabled} notice={overrides.notice}>
          <AccessRulesSections
            csrf={csrf}
            factors={overrides.factors ?? factorsFormOf(rules)}
            restriction={overrides.restriction ?? restrictionFormOf(rules)}
            policy={overrides.policy ?? policyFormOf(policyInput(rules.policy))}
            floor={serviceFloor(deps)}
            ownIp={request.ip}
          />
        </AccessControlPage>,
      ),
    );
}

const policyFieldNames: PolicyField[] = ['minPasswordLength', 'lockAfterFailures', 'idleTimeoutMinutes', 'absoluteTimeoutMinutes', 'inactiveDays'];

/** The policy form's fields: blank is null; anything but digits is an error of its own field. */
function readPolicy(body: unknown): { input: PolicyInput; values: Record<PolicyField, string>; errors: Partial<Record<PolicyField, string>> } {
  const values = {} as Record<PolicyField, string>;
  const input = {} as PolicyInput;
  const errors: Partial<Record<PolicyField, string>> = {};
  for (const field of policyFieldNames) {
    const text = formField(body, field).trim();
    values[field] = text;
    if (text === '') input[field] = null;
    else if (/^\d{1,6}$/.test(text)) input[field] = Number(text);
    else {
      input[field] = null;
      errors[field] = 'Enter a whole number, or leave it blank.';
    }
  }
  return { input, values, errors };
}

export async function accessRulesPages(app: FastifyInstance, { deps, cookie }: RouteContext) {
  app.post(`${page}/factors`, { config: { access: { permission: 'manageAccount' } }, preHandler: app.csrfProtection }, async (request, reply) => {
    const auth = principalOf(request);
    const input = { allowed: formFields(request.body, 'allowed'), adminsNeedKey: formField(request.body, 'adminsNeedKey') === 'on' };
    const result = await saveFactorPolicy(deps, auth, input, request.ip);
    if (!result.ok) return sendAccessControlPage(deps, request, reply, auth, 400, { factors: { ...input, errors: result.errors } });
    if (result.pendingToken) {
      // This session did not use a key: set one up (or use yours) now.
      setSessionCookie(reply, cookie, result.pendingToken);
      return reply.redirect('/login/mfa', 303);
    }
    return reply.redirect(`${page}?saved=1`, 303);
  });


  app.post(`${page}/network`, { config: { access: { permission: 'manageAccount' } }, preHandler: app.csrfProtection }, async (request, reply) => {
    const auth = principalOf(request);
    const rangesText = formField(request.body, 'ranges');
    const appliesTo = formField(request.body, 'appliesTo');
    const confirmed = formField(request.body, 'confirmOwnAddress') === 'yes';
    const result = await saveRestriction(deps, auth, { ranges: parseRangeLines(rangesText), appliesTo, confirmed }, request.ip);
    if (result.ok) {
      // Confirmed to leave the admin's own address out: their session ends on this next request.
      return reply.redirect(`${page}?saved=1`, 303);
    }
    const restriction: RestrictionForm =
      result.reason === 'invalid' ? { rangesText, appliesTo, errors: result.errors } : { rangesText, appliesTo, confirmOwnAddress: result.ip };
    return sendAccessControlPage(deps, request, reply, auth, result.reason === 'invalid' ? 400 : 409, { restriction });
  });

  app.post(`${page}/policy`, { config: { access: { permission: 'manageAccount' } }, preHandler: app.csrfProtection }, async (request, reply) => {
    const auth = principalOf(request);
    const read = readPolicy(request.body);
    if (Object.keys(read.errors).length > 0) return sendAccessControlPage(deps, request, reply, auth, 400, { policy: { values: read.values, errors: read.errors } });
    const result = await savePolicy(deps, auth, read.input, request.ip);
    if (result.ok) return reply.redirect(`${page}?saved=1`, 303);
    return sendAccessControlPage(deps, request, reply, auth, 400, { policy: { values: read.values, errors: result.errors } });
  });
}
