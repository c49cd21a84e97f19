import { usages } from './usage.ts';
import { openRuntime } from '../runtime.ts';
import { printJson, UsageError } from './io.ts';


export async function run(args: string[], env: Record<string, string | undefined>): Promise<number> {
  if (args.length > 0) throw new UsageError(usages.migrate);
  const runtime = await openRuntime(env);
  await runtime.close();
  printJson({ migrated: true });
  return 0;
}
