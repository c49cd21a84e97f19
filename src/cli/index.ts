import { ConfigError } from '../config/settings.ts';
import { UsageError } from './io.ts';
import * as accountCreate from './account-create.ts';
import * as keys from './keys.ts';
import * as migrate from './migrate.ts';
import * as userCreate from './user-create.ts';
import * as userImport from './user-import.ts';
import * as userResetMfa from './user-reset-mfa.ts';

type Env = Record<string, string | undefined>;

const commands: Record<string, { usage: string; run(args: string[], env: Env): Promise<number> }> = {
  'account create': accountCreate,
  'user create': userCreate,
  'user import': userImport,
  'user reset-mfa': userResetMfa,
  migrate,
  keys,
};

const help = `Usage:
  portcullis serve                 start the service (PORT, PORTCULLIS_DATABASE_URL, …; see README)
  ${Object.values(commands).map((c) => c.usage).join('\n  ')}
`;

async function main(argv: string[], env: Env): Promise<number> {
  const [first, second, ...rest] = argv;
  if (first === 'serve') {
    const { serve } = await import('../main.ts');
    await serve(env);
    return -1; // keeps running
  }
  if (!first || first === '--help' || first === 'help') {
    process.stdout.write(help);
    return first ? 0 : 2;
  }
  const two = commands[`${first} ${second}`];
  if (two) return two.run(rest, env);
  const one = commands[first];
  if (one) return one.run(second === undefined ? rest : [second, ...rest], env);
  process.stderr.write(`portcullis: unknown command "${argv.join(' ')}"\n${help}`);
  return 2;
}

try {
  const code = await main(process.argv.slice(2), process.env);
  if (code >= 0) process.exitCode = code;
} catch (error) {
  if (error instanceof UsageError) {
    process.stderr.write(`usage: ${error.message}\n`);
    process.exitCode = 2;
  } else if (error instanceof ConfigError) {
    process.stderr.write(`portcullis: configuration: ${error.message}\n`);
    process.exitCode = 1;
  } else if (error instanceof TypeError && (error as NodeJS.ErrnoException).code?.startsWith('ERR_PARSE_ARGS')) {
    process.stderr.write(`portcullis: ${error.message}\n${help}`);
    process.exitCode = 2;
  } else {
    process.stderr.write(`portcullis: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 1;
  }
}
