import { usages } from './usage.ts';
import { parseArgs } from 'node:util';
import { usernameKey } from '../domain/names.ts';
import { openRuntime } from '../runtime.ts';
import { issuePasswordReset } from '../services/password-reset.ts';
import { printJson, UsageError } from './io.ts';

// Reset password from the command line (issue 15): issues the same one-time
// link as Edit user and prints it; it is e-mailed too when the user has an
// address. The link names PORTCULLIS_PUBLIC_URL, or this machine's port.

export async function run(args: string[], env: Record<string, string | undefined>): Promise<number> {
  const { values } = parseArgs({ args, options: { account: { type: 'string' }, username: { type: 'string' } }, strict: true });
  if (!values.account || !values.username) throw new UsageError(usages.userResetPassword);
  const runtime = await openRuntime(env);
  try {
    const user = await runtime.deps.store.users.findByUsername(values.account, usernameKey(values.username));
    if (!user) {
      process.stderr.write(`portcullis: there is no user "${values.username}" in account ${values.account}\n`);
      return 1;
    }
    const osUser = env.SUDO_USER || env.USER || 'unknown';
    const { settings } = runtime.deps;
    const base = settings.publicUrl?.origin ?? `http://localhost:${settings.port}`;
    const result = await issuePasswordReset(runtime.deps, values.account, user.id, { userId: null, label: `cli (${osUser})`, ip: null }, base);
    if (!result.ok) {
      process.stderr.write(`portcullis: there is no user "${values.username}" in account ${values.account}\n`);
      return 1;
    }
    printJson({ userId: user.id, link: result.link, emailed: result.emailed, expiresAt: new Date(result.expiresAt).toISOString() });
    return 0;
  } finally {
    await runtime.close();
  }
}
