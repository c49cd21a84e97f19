/** @jsxRuntime automatic @jsxImportSource preact */
import { formatRangeLines, policyBounds } from '../../domain/access-rules.ts';
import type { AccessRules, PolicyField, PolicyInput, ServiceFloor } from '../../domain/access-rules.ts';
import type { FactorType } from '../../domain/auth-methods.ts';
import { CsrfField } from './layout.tsx';

// Account Access Control's sign-in rules (issues 14 and 15), each in a form
// and a fieldset of its own on the page: the second factors allowed, allowed
// networks, and the login policy.

export interface RestrictionForm {
  /** The text area as typed, one range and its label a line. */
  rangesText: string;
  appliesTo: string;
  errors?: string[];
  /** Set when the list leaves out the admin's own address: ask before saving. */
  confirmOwnAddress?: string;
}

export interface PolicyForm {
  values: Record<PolicyField, string>;
  errors?: Partial<Record<PolicyField, string>>;
}

export interface FactorsForm {
  allowed: readonly string[];
  adminsNeedKey: boolean;
  errors?: string[];
}

export function factorsFormOf(rules: AccessRules): FactorsForm {
  return { allowed: rules.factors.allowed, adminsNeedKey: rules.factors.adminsNeedKey };
}

export function restrictionFormOf(rules: AccessRules): RestrictionForm {
  return { rangesText: formatRangeLines(rules.ranges), appliesTo: rules.appliesTo };
}

export function policyFormOf(input: PolicyInput): PolicyForm {
  const text = (n: number | null) => (n === null ? '' : String(n));
  return {
    values: {
      minPasswordLength: text(input.minPasswordLength),
      lockAfterFailures: text(input.lockAfterFailures),
      idleTimeoutMinutes: text(input.idleTimeoutMinutes),
      absoluteTimeoutMinutes: text(input.absoluteTimeoutMinutes),
      inactiveDays: text(input.inactiveDays),
    },
  };
}

export function AccessRulesSections(props: { csrf: string; factors: FactorsForm; restriction: RestrictionForm; policy: PolicyForm; floor: ServiceFloor; ownIp: string }) {
  return (
    <>
      <FactorsSection csrf={props.csrf} form={props.factors} />
      <NetworkSection csrf={props.csrf} form={props.restriction} ownIp={props.ownIp} />
      <PolicySection csrf={props.csrf} form={props.policy} floor={props.floor} />
    </>
  );
}

const factorChoices: Array<{ kind: FactorType; label: string; help: string }> = [
  { kind: 'totp', label: 'Authenticator app', help: 'A six-digit code from an app on the user’s phone.' },
  { kind: 'webauthn', label: 'Security key or passkey', help: 'A hardware key or the device’s own passkey: cannot be phished.' },
];

function FactorsSection({ csrf, form }: { csrf: string; form: FactorsForm }) {
  return (
    <form method="post" action="/manage/console/account-access-control/factors" class="card" id="factors">
      <CsrfField token={csrf} />
      <fieldset>
        <legend>Second factors</legend>
        {form.errors && form.errors.length > 0 && (
          <ul class="error" role="alert">
            {form.errors.map((e) => (
              <li>{e}</li>
            ))}
          </ul>
        )}
        <p class="help">
          Which second factors users may set up and sign in with. A factor of a kind you no longer allow stops counting: its user sets up an
          allowed one at the next sign-in.
        </p>
        {factorChoices.map(({ kind, label, help }) => (
          <div class="check">
            <input type="checkbox" id={`allowed-${kind}`} name="allowed" value={kind} checked={form.allowed.includes(kind)} aria-describedby={`allowed-${kind}-help`} />
            <label for={`allowed-${kind}`}>{label}</label>
            <p id={`allowed-${kind}-help`} class="help">
              {help}
            </p>
          </div>
        ))}
        <div class="check">
          <input type="checkbox" id="adminsNeedKey" name="adminsNeedKey" value="on" checked={form.adminsNeedKey} aria-describedby="adminsNeedKey-help" />
          <label for="adminsNeedKey">Require a security key or passkey for admins</label>
          <p id="adminsNeedKey-help" class="help">
            Admins then sign in with a key only, even where MFA is off; an authenticator app alone no longer lets them in. Admins without a key
            set one up at their next sign-in, and you set up yours right after saving if this session did not use one.
          </p>
        </div>
        <button type="submit">Save second factors</button>
      </fieldset>
    </form>
  );
}

function NetworkSection({ csrf, form, ownIp }: { csrf: string; form: RestrictionForm; ownIp: string }) {
  return (
    <form method="post" action="/manage/console/account-access-control/network" class="card" id="network">
      <CsrfField token={csrf} />
      <fieldset>
        <legend>Allowed networks (IP address ranges)</legend>
        {form.errors && form.errors.length > 0 && (
          <ul class="error" role="alert">
            {form.errors.map((e) => (
              <li>{e}</li>
            ))}
          </ul>
        )}
        {form.confirmOwnAddress && (
          <div class="error" role="alert">
            <p>
              These ranges leave out your own address, {form.confirmOwnAddress}: saving them signs you out at once, and you could only sign in
              again from an allowed network.
            </p>
            <input type="hidden" name="confirmOwnAddress" value="yes" />
            <button type="submit">Save and sign me out</button>
          </div>
        )}
        <label for="ranges">Allowed address ranges</label>
        <textarea id="ranges" name="ranges" rows={5} aria-describedby="ranges-help" spellcheck={false}>
          {form.rangesText}
        </textarea>
        <p id="ranges-help" class="help">
          One range a line, an IPv4 or IPv6 address or CIDR and then its label, e.g. <code>203.0.113.0/24 Head office</code>. With ranges
          here, a sign-in from any other network is refused after the password, and a session used from another network ends. Leave it
          empty to allow every network. Your address now: {ownIp}.
        </p>
        <p>Apply to</p>
        <div class="check">
          <input type="radio" id="appliesTo-everyone" name="appliesTo" value="everyone" checked={form.appliesTo !== 'everyone_but_admins'} />
          <label for="appliesTo-everyone">Everyone</label>
        </div>
        <div class="check">
          <input type="radio" id="appliesTo-but-admins" name="appliesTo" value="everyone_but_admins" checked={form.appliesTo === 'everyone_but_admins'} />
          <label for="appliesTo-but-admins">Everyone but admins</label>
        </div>
        <button type="submit">Save networks</button>
      </fieldset>
    </form>
  );
}

const policyFields: Array<{ field: PolicyField; label: string; unit: string; help: (b: { min: number; max: number }) => string }> = [
  { field: 'minPasswordLength', label: 'Minimum password length', unit: 'characters', help: (b) => `${b.min} to ${b.max}; blank: the service’s ${b.min}. Applies to new passwords.` },
  { field: 'lockAfterFailures', label: 'Failed passwords before a lock', unit: 'failures', help: (b) => `${b.min} to ${b.max}; blank: the service’s ${b.max}.` },
  { field: 'idleTimeoutMinutes', label: 'Session idle timeout', unit: 'minutes', help: (b) => `${b.min} to ${b.max}; blank: the service’s ${b.max}.` },
  { field: 'absoluteTimeoutMinutes', label: 'Session absolute timeout', unit: 'minutes', help: (b) => `${b.min} to ${b.max}; blank: the service’s ${b.max}.` },
  {
    field: 'inactiveDays',
    label: 'Deactivate users who have not signed in for',
    unit: 'days',
    help: (b) => `${b.min} to ${b.max}; blank: never (off). Admins are never deactivated; re-enable a user on Edit user.`,
  },
];

function PolicySection({ csrf, form, floor }: { csrf: string; form: PolicyForm; floor: ServiceFloor }) {
  const bounds = policyBounds(floor);
  return (
    <form method="post" action="/manage/console/account-access-control/policy" class="card" id="policy">
      <CsrfField token={csrf} />
      <fieldset>
        <legend>Login policy</legend>
        <p class="help">Stricter than the service’s own rules only; the service’s values stay the floor.</p>
        {policyFields.map(({ field, label, unit, help }) => {
          const error = form.errors?.[field];
          const bound = field === 'idleTimeoutMinutes' ? bounds.idleTimeoutMinutes : field === 'absoluteTimeoutMinutes' ? bounds.absoluteTimeoutMinutes : bounds[field];
          return (
            <div class="field">
              <label for={field}>
                {label} ({unit})
              </label>
              <input
                id={field}
                name={field}
                type="number"
                inputMode="numeric"
                min={bound.min}
                max={bound.max}
                value={form.values[field]}
                aria-describedby={`${field}-help${error ? ` ${field}-error` : ''}`}
                aria-invalid={error ? 'true' : undefined}
              />
              {error && (
                <p id={`${field}-error`} class="error" role="alert">
                  {error}
                </p>
              )}
              <p id={`${field}-help`} class="help">
                {help(bound)}
              </p>
            </div>
          );
        })}
        <button type="submit">Save login policy</button>
      </fieldset>
    </form>
  );
}
