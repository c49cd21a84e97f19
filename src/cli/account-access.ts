import { usages } from './usage.ts';
import { parseArgs } from 'node:util';
import { openRuntime } from '../runtime.ts';
import { clearRestriction } from '../services/access-rules.ts';
import { printJson, UsageError } from './io.ts';

// Break-glass (issue 15): the day an account's allowed networks leave every
// admin outside, removes them all. The login policy stays as it is.

export async function run(args: string[], env: Record<string, string | undefined>): Promise<number> {
  const { values, positionals } = parseArgs({ args, options: { account: { type: 'string' } }, allowPositionals: true, strict: true });
  if (positionals.length !== 1 || positionals[0] !== 'clear' || !values.account) throw new UsageError(usages.accountAccess);
  const runtime = await openRuntime(env);
  try {
    const osUser = env.SUDO_USER || env.USER || 'unknown';
    const result = await clearRestriction(runtime.deps, values.account, { userId: null, label: `cli (${osUser})`, ip: null });
    if (!result.ok) {
      process.stderr.write(`portcullis: there is no account ${values.account}\n`);
      return 1;
    }
    printJson({ cleared: true, accountId: values.account, rangesRemoved: result.removed });
    return 0;
  } finally {
    await runtime.close();
  }
}
