import { usages } from './usage.ts';
import { readFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { parseArgs } from 'node:util';
import { openRuntime } from '../runtime.ts';
import { importUsers } from '../services/user-import.ts';
import { printJson, UsageError } from './io.ts';


export async function run(args: string[], env: Record<string, string | undefined>): Promise<number> {
  const { values, positionals } = parseArgs({ args, options: { account: { type: 'string' } }, allowPositionals: true, strict: true });
  const file = positionals[0];
  if (!values.account || !file || positionals.length !== 1) throw new UsageError(usages.userImport);
  let csv: string;
  try {
    csv = await readFile(file, 'utf8');
  } catch (error) {
    process.stderr.write(`portcullis: cannot read ${file}: ${(error as NodeJS.ErrnoException).code ?? 'error'}\n`);
    return 1;
  }
  const runtime = await openRuntime(env);
  try {
    const result = await importUsers(runtime.deps, values.account, csv, { userId: null, label: 'cli', ip: null }, availableParallelism());
    if (!result.ok) {
      for (const e of result.errors) process.stderr.write(`portcullis: ${file}:${e.line}: ${e.message}\n`);
      process.stderr.write(`portcullis: nothing was imported (${result.errors.length} problem${result.errors.length === 1 ? '' : 's'}).\n`);
      return 1;
    }
    printJson({ imported: result.imported, skillsAssigned: result.skillsAssigned });
    return 0;
  } finally {
    await runtime.close();
  }
}
