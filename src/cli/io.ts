/** Reads all of standard input; a password piped in loses its one trailing newline. */
export async function readStdin(): Promise<string> {
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

/** What readPassword needs of a terminal: process.stdin is one. */
export interface TerminalInput {
  isTTY?: boolean;
  setRawMode?(raw: boolean): unknown;
  on(event: 'data', listener: (chunk: Buffer | string) => void): unknown;
  off(event: 'data', listener: (chunk: Buffer | string) => void): unknown;
  resume(): unknown;
  pause(): unknown;
}

/**
 * One line typed without echo (the terminal in raw mode): Enter ends it,
 * Backspace takes back a character, Ctrl-C or Ctrl-D on an empty line gives up.
 */
function readHidden(input: TerminalInput, output: { write(text: string): unknown }, prompt: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let typed = '';
    const done = (error?: Error) => {
      input.off('data', onData);
      input.setRawMode?.(false);
      input.pause();
      output.write('\n');
      if (error) reject(error);
      else resolve(typed);
    };
    const onData = (chunk: Buffer | string) => {
      for (const char of typeof chunk === 'string' ? chunk : chunk.toString('utf8')) {
        if (char === '\r' || char === '\n') return done();
        if (char === '\u0003' || (char === '\u0004' && typed === '')) return done(new UsageError('No password given; nothing was changed.'));
        if (char === '\u007f' || char === '\b') typed = [...typed].slice(0, -1).join('');
        else if (char >= ' ') typed += char;
      }
    };
    input.setRawMode?.(true);
    input.on('data', onData);
    input.resume();
    output.write(prompt);
  });
}

/**
 * The password for a command (issue 16, finding 13). At a terminal it is
 * asked twice without echo, and two different answers are refused, so a typo
 * cannot set a password nobody knows; from a pipe it is the input's one line,
 * as scripts give it.
 */
export async function readPassword(
  input: TerminalInput = process.stdin,
  output: { write(text: string): unknown } = process.stderr,
): Promise<string> {
  if (!input.isTTY) return passwordFromStdin(await readStdin());
  const first = await readHidden(input, output, 'Password: ');
  const second = await readHidden(input, output, 'Repeat the password: ');
  if (first !== second) throw new UsageError('The two passwords differ; nothing was changed. Run the command again.');
  return first;
}
