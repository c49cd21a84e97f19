import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

// The `portcullis` command as an operator runs it: a child process of
// bin/portcullis.js, the password on standard input, settings in the environment.

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const BIN = join(ROOT, 'bin', 'portcullis.js');
/** Cheap argon2id, the same code path. */
export const FAST_ARGON2 = { PORTCULLIS_ARGON2_MEMORY_KIB: '1024', PORTCULLIS_ARGON2_ITERATIONS: '1' };

export interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** The environment of the test run without any Portcullis setting that could leak in, plus the test's own. */
export function childEnv(url: string, extra: Record<string, string> = {}): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (value !== undefined && !key.startsWith('PORTCULLIS_') && key !== 'NODE_OPTIONS') env[key] = value;
  }
  return { ...env, ...FAST_ARGON2, PORTCULLIS_DATABASE_URL: url, ...extra };
}

export function portcullis(args: string[], opts: { url: string; env?: Record<string, string>; stdin?: string }): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      cwd: ROOT,
      env: childEnv(opts.url, opts.env),
      stdio: ['pipe', 'pipe', 'pipe'],
      timeout: 30_000,
      killSignal: 'SIGKILL',
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.on('error', reject);
    child.on('close', (code, signal) => {
      if (signal) reject(new Error(`portcullis ${args.join(' ')} was killed (${signal})\n${stderr}`));
      else resolve({ code, stdout, stderr });
    });
    // A command that fails before reading its input closes the pipe early; that is fine.
    child.stdin.on('error', () => {});
    child.stdin.end(opts.stdin ?? '');
  });
}
