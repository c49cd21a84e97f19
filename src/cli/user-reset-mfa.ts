import { usages } from './usage.ts';
import { parseArgs } from 'node:util';
import { usernameKey } from '../domain/names.ts';
import { openRuntime } from '../runtime.ts';
import { resetMfa } from '../services/mfa-reset.ts';
import { printJson, UsageError } from './io.ts';
import { sendLogoutsFrom } from './logout.ts';

export async function run(args: string[], env: Record<string, string | undefined>): Promise<number> {
  const { values } = parseArgs({ args, options: { account: { type: 'string' }, username: { type: 'string' } }, strict: true });
  if (!values.account || !values.username) throw new UsageError(usages.userResetMfa);
  const runtime = await openRuntime(env);
  try {
    const user = await runtime.deps.store.users.findByUsername(values.account, usernameKey(values.username));
    if (!user) {
      process.stderr.write(`portcullis: there is no user "${values.username}" in account ${values.account}\n`);
      return 1;
    }
    const osUser = env.SUDO_USER || env.USER || 'unknown';
    const logouts = sendLogoutsFrom(runtime, env);
    const result = await resetMfa(runtime.deps, values.account, user.id, { userId: null, label: `cli (${osUser})`, ip: null });
    if (!result.ok) {
      process.stderr.write(`portcullis: there is no user "${values.username}" in account ${values.account}\n`);
      return 1;
    }
    // The applications the user signed in to are told before the command exits.
    const told = await logouts.settle();
    printJson({
      reset: true,
      userId: user.id,
      authenticatorRevoked: result.factorsRevoked > 0,
      factorsRevoked: result.factorsRevoked,
      sessionsEnded: result.sessionsEnded,
      applicationsNotified: told.sent,
    });
    return 0;
  } finally {
    await runtime.close();
  }
}
