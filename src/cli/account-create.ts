import { usages } from './usage.ts';
import { parseArgs } from 'node:util';
import { openRuntime } from '../runtime.ts';
import { createAccount } from '../services/accounts.ts';
import { printJson, readPassword, UsageError } from './io.ts';


export async function run(args: string[], env: Record<string, string | undefined>): Promise<number> {
  const { values } = parseArgs({ args, options: { name: { type: 'string' }, admin: { type: 'string' } }, strict: true });
  if (!values.name || !values.admin) throw new UsageError(usages.accountCreate);
  const password = await readPassword();
  const runtime = await openRuntime(env);
  try {
    const result = await createAccount(
      runtime.deps,
      { name: values.name, adminUsername: values.admin, adminPassword: password },
      { userId: null, label: 'cli', ip: null },
    );
    if (!result.ok) {
      for (const error of result.errors) process.stderr.write(`portcullis: ${error}\n`);
      return 1;
    }
    printJson({ accountId: result.accountId, adminUserId: result.adminUserId });
    return 0;
  } finally {
    await runtime.close();
  }
}
