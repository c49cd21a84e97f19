/** @jsxRuntime automatic @jsxImportSource preact */
import { formatRangeLines, policyBounds } from '../../domain/access-rules.ts';
import type { AccessRules, PolicyField, PolicyInput, ServiceFloor } from '../../domain/access-rules.ts';
import { CsrfField } from './layout.tsx';

// Account Access Control's sign-in rules (issue 15), each in a form and a
// fieldset of its own on the page: allowed networks, and the login policy.

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

export function AccessRulesSections(props: { csrf: string; restriction: RestrictionForm; policy: PolicyForm; floor: ServiceFloor; ownIp: string }) {
  return (
    <>
      <NetworkSection csrf={props.csrf} form={props.restriction} ownIp={props.ownIp} />
      <PolicySection csrf={props.csrf} form={props.policy} floor={props.floor} />
    </>
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
