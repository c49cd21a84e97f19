/** Reads all of standard input; a password piped in loses its one trailing newline. */
export async function readStdin(): Promise<string> {
  if (process.stdin.isTTY) {
    process.stderr.write('Reading the password from standard input (end with Ctrl-D)…\n');
  }
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

export function passwordFromStdin(text: string): string {
  return text.replace(/\r?\n$/, '');
}

export class UsageError extends Error {
  override name = 'UsageError';
}

export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value)}\n`);
}
