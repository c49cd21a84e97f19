import { usages } from './usage.ts';
import { parseArgs } from 'node:util';
import { openRuntime } from '../runtime.ts';
import { createUser } from '../services/users.ts';
import { printJson, readPassword, UsageError } from './io.ts';


export async function run(args: string[], env: Record<string, string | undefined>): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      account: { type: 'string' },
      username: { type: 'string' },
      role: { type: 'string' },
      skills: { type: 'string' },
      email: { type: 'string' },
    },
    strict: true,
  });
  if (!values.account || !values.username || !values.role) throw new UsageError(usages.userCreate);
  const password = await readPassword();
  const runtime = await openRuntime(env);
  try {
    const result = await createUser(
      runtime.deps,
      values.account,
      { username: values.username, role: values.role, password, skills: values.skills?.split(';') ?? [], email: values.email ?? null },
      { userId: null, label: 'cli', ip: null },
      // An operator typed it for the user: the user changes it at the first sign-in.
      'admin',
    );
    if (!result.ok) {
      for (const error of result.errors) process.stderr.write(`portcullis: ${error}\n`);
      return 1;
    }
    printJson({ userId: result.userId });
    return 0;
  } finally {
    await runtime.close();
  }
}
