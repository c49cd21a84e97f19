import { spawn, spawnSync } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readPassword, UsageError } from '../../src/cli/io.ts';
import type { TerminalInput } from '../../src/cli/io.ts';
import { BIN, childEnv, ROOT } from '../helpers/cli.ts';

// Issue 16, finding 13: at a terminal the password was echoed as it was typed
// and the command waited for Ctrl-D; log lines were JSON over the screen.
const PASSWORD = 'Terminal-Passw0rd-Long';

/** A terminal as readPassword sees it: it answers each prompt with the next line, as a person would. */
class FakeTerminal extends EventEmitter implements TerminalInput {
  isTTY = true;
  raw: boolean[] = [];
  constructor(private readonly answers: string[]) {
    super();
  }
  setRawMode(raw: boolean) {
    this.raw.push(raw);
  }
  resume() {}
  pause() {}
  /** The output side: every prompt is answered by the next keystrokes. */
  output = {
    text: '',
    write: (text: string) => {
      this.output.text += text;
      const next = this.answers[0];
      if (text.endsWith(': ') && next !== undefined) {
        this.answers.shift();
        queueMicrotask(() => this.emit('data', Buffer.from(next)));
      }
    },
  };
}

describe('readPassword at a terminal', () => {
  it('asks twice in raw mode (no echo) and answers the password', async () => {
    const tty = new FakeTerminal([`${PASSWORD}\r`, `${PASSWORD}x\u007f\r`]);
    await expect(readPassword(tty, tty.output)).resolves.toBe(PASSWORD);
    expect(tty.output.text).toBe('Password: \nRepeat the password: \n');
    expect(tty.raw).toEqual([true, false, true, false]);
  });

  it('says when the two differ', async () => {
    const tty = new FakeTerminal([`${PASSWORD}\r`, `${PASSWORD}!\r`]);
    const error = await readPassword(tty, tty.output).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UsageError);
    expect((error as Error).message).toMatch(/differ/);
    expect(tty.raw.at(-1)).toBe(false);
  });

  it('gives up on Ctrl-C', async () => {
    const tty = new FakeTerminal(['abc\u0003']);
    await expect(readPassword(tty, tty.output)).rejects.toBeInstanceOf(UsageError);
  });
});

const hasScript = spawnSync('script', ['--version']).status === 0;

describe.skipIf(!hasScript)('account create in a real pseudo-terminal (script -qec)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'portcullis-tty-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('does not echo the password, asks it twice, and logs readable lines', async () => {
    const child = spawn('script', ['-qec', `"${process.execPath}" "${BIN}" account create --name "Tty Co" --admin alice`, '/dev/null'], {
      cwd: ROOT,
      env: childEnv(`sqlite:${join(dir, 'p.db')}`),
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let screen = '';
    let answered = 0;
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      screen += chunk;
      // Type only once the prompt is shown: the terminal is then in raw mode, without echo.
      const prompts = (screen.match(/Password: |Repeat the password: /g) ?? []).length;
      while (answered < prompts) {
        child.stdin.write(`${PASSWORD}\r`);
        answered += 1;
      }
    });
    const code = await new Promise<number | null>((resolve) => child.once('close', resolve));
    expect(code, screen).toBe(0);
    expect(answered).toBe(2);
    expect(screen).not.toContain(PASSWORD);
    expect(screen).toMatch(/"accountId"/);
    // The migration's log line, pretty-printed: a level word, not a JSON "level":30.
    expect(screen).toMatch(/INFO.*database migrated/);
    expect(screen).not.toMatch(/"level":\d/);
  }, 30_000);
});
