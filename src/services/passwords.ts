import { TemporarilyUnavailable } from '../domain/errors.ts';
import { normalizePassword } from '../domain/password-policy.ts';
import { createHashPool } from './hash-pool.ts';
import type { HashOptions } from './hash-pool.ts';

export interface Argon2Params {
  argon2MemoryKiB: number;
  argon2Iterations: number;
  argon2Parallelism: number;
  /** Hashing threads; one per core when unset. */
  hashThreads?: number;
}

export interface PasswordHasher {
  hash(password: string): Promise<string>;
  /**
   * Verifies against a stored hash; a malformed hash is a mismatch, not a crash.
   * Throws TemporarilyUnavailable when no hashing thread could answer: a lost
   * thread must not read as a wrong password (counted towards a lock).
   */
  verify(passwordHash: string, password: string): Promise<boolean>;
  /**
   * Spends the time a real verification costs and answers false. Used for
   * unknown users so that their failures take as long as wrong passwords.
   * Throws TemporarilyUnavailable exactly when `verify` would, so an unknown
   * user and a known one get the same answer then too.
   */
  verifyDummy(password: string): Promise<false>;
  /** Stops the hashing threads. */
  close(): Promise<void>;
}

export function createPasswordHasher(params: Argon2Params): PasswordHasher {
  // argon2id (algorithm 2): the const enum is not importable under verbatimModuleSyntax.
  const options: HashOptions = {
    algorithm: 2,
    memoryCost: params.argon2MemoryKiB,
    timeCost: params.argon2Iterations,
    parallelism: params.argon2Parallelism,
  };
  // Computed on first use, with the same parameters as real hashes so it costs the same.
  let dummy: Promise<string> | undefined;
  // Hashing runs on threads of its own, below the event loop's priority (hash-pool.ts).
  const pool = createHashPool(params.hashThreads);

  const check = async (passwordHash: string, password: string) => {
    try {
      return await pool.verify(passwordHash, normalizePassword(password));
    } catch (error) {
      if (error instanceof TemporarilyUnavailable) throw error;
      return false; // the binding refused the stored hash
    }
  };

  return {
    hash: (password) => pool.hash(normalizePassword(password), options),
    verify: check,
    async verifyDummy(password) {
      // A failed dummy hash (a hashing thread lost) is forgotten, so the next call
      // makes it again.
      dummy ??= pool.hash('portcullis-dummy-password', options).catch((error: unknown) => {
        dummy = undefined;
        throw error;
      });
      await check(await dummy, password);
      return false;
    },
    close: () => pool.close(),
  };
}
