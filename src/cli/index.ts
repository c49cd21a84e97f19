import { parseArgs } from 'node:util';
import { ConfigError, loadSettings } from '../config/settings.ts';
import { UsageError } from './io.ts';
import { usages } from './usage.ts';

type Env = Record<string, string | undefined>;
type Command = { usage: string; load: () => Promise<{ run(args: string[], env: Env): Promise<number> }> };

// Each command is loaded only when it runs, so a command starts without compiling the others.
const commands: Record<string, Command> = {
  'account create': { usage: usages.accountCreate, load: () => import('./account-create.ts') },
  'account access': { usage: usages.accountAccess, load: () => import('./account-access.ts') },
  'user create': { usage: usages.userCreate, load: () => import('./user-create.ts') },
  'user import': { usage: usages.userImport, load: () => import('./user-import.ts') },
  'user reset-mfa': { usage: usages.userResetMfa, load: () => import('./user-reset-mfa.ts') },
  client: { usage: `${usages.clientCreate}
  ${usages.clientList}
  ${usages.clientDelete}`, load: () => import('./client.ts') },
  'user reset-password': { usage: usages.userResetPassword, load: () => import('./user-reset-password.ts') },
  migrate: { usage: usages.migrate, load: () => import('./migrate.ts') },
  keys: { usage: usages.keys, load: () => import('./keys.ts') },
};

const help = `Usage:
  portcullis serve [--workers N]   start the service (PORT, PORTCULLIS_DATABASE_URL, PORTCULLIS_WORKERS, …; see README)
  ${Object.values(commands).map((c) => c.usage).join('\n  ')}
`;

async function main(argv: string[], env: Env): Promise<number> {
  const [first, second, ...rest] = argv;
  if (first === 'serve') {
    const { values } = parseArgs({ args: argv.slice(1), options: { workers: { type: 'string' } }, strict: true });
    // The flag wins over PORTCULLIS_WORKERS, and is checked the same way.
    let workers: number | undefined;
    try {
      workers = values.workers === undefined ? undefined : loadSettings({ ...env, PORTCULLIS_WORKERS: values.workers }).workers;
    } catch (error) {
      if (error instanceof ConfigError) throw new ConfigError(error.message.replace('PORTCULLIS_WORKERS', '--workers'));
      throw error;
    }
    const { serve } = await import('../main.ts');
    await serve(env, { workers });
    return -1; // keeps running
  }
  if (!first || first === '--help' || first === 'help') {
    process.stdout.write(help);
    return first ? 0 : 2;
  }
  const two = commands[`${first} ${second}`];
  if (two) return (await two.load()).run(rest, env);
  const one = commands[first];
  if (one) return (await one.load()).run(second === undefined ? rest : [second, ...rest], env);
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
