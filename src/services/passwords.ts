import { hash, verify } from '@node-rs/argon2';
import type { Options } from '@node-rs/argon2';
import { normalizePassword } from '../domain/password-policy.ts';

export interface Argon2Params {
  argon2MemoryKiB: number;
  argon2Iterations: number;
  argon2Parallelism: number;
}

export interface PasswordHasher {
  hash(password: string): Promise<string>;
  /** Verifies against a stored hash; a malformed hash is a mismatch, not a crash. */
  verify(passwordHash: string, password: string): Promise<boolean>;
  /**
   * Spends the time a real verification costs and answers false. Used for
   * unknown users so that their failures take as long as wrong passwords.
   */
  verifyDummy(password: string): Promise<false>;
}

export function createPasswordHasher(params: Argon2Params): PasswordHasher {
  // argon2id (algorithm 2): the const enum is not importable under verbatimModuleSyntax.
  const options: Options = {
    algorithm: 2 as Options['algorithm'],
    memoryCost: params.argon2MemoryKiB,
    timeCost: params.argon2Iterations,
    parallelism: params.argon2Parallelism,
  };
  // Computed on first use, with the same parameters as real hashes so it costs the same.
  let dummy: Promise<string> | undefined;

  const check = async (passwordHash: string, password: string) => {
    try {
      return await verify(passwordHash, normalizePassword(password));
    } catch {
      return false;
    }
  };

  return {
    // The async API runs on libuv's thread pool: hashing never blocks the event loop.
    hash: (password) => hash(normalizePassword(password), options),
    verify: check,
    async verifyDummy(password) {
      dummy ??= hash('portcullis-dummy-password', options);
      await check(await dummy, password);
      return false;
    },
  };
}
