import { randomBytes } from 'node:crypto';
import { formatKey } from '../config/secret-key.ts';
import { UsageError } from './io.ts';

export const usage = 'portcullis keys generate [--id KEYID]   (prints a new PORTCULLIS_SECRET_KEY entry)';

export async function run(args: string[]): Promise<number> {
  const [verb, flag, id = `k${Date.now().toString(36)}`] = args;
  if (verb !== 'generate' || (flag !== undefined && flag !== '--id')) throw new UsageError(usage);
  if (!/^[A-Za-z0-9_-]{1,32}$/.test(id)) throw new UsageError('key id: 1–32 letters, digits, _ or -');
  process.stdout.write(`${formatKey(id, randomBytes(32))}\n`);
  return 0;
}
