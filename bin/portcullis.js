#!/usr/bin/env node
// The `portcullis` command. Source is TypeScript run through tsx, so a checkout
// needs no build step: `npm ci` is all it takes.

// argon2 hashes on libuv's thread pool, whose size is fixed at its first use:
// set it before anything else loads.
const threads = process.env.PORTCULLIS_HASH_THREADS;
if (threads !== undefined && threads !== '') {
  if (!/^\d{1,3}$/.test(threads) || Number(threads) < 1 || Number(threads) > 1024) {
    process.stderr.write(`portcullis: configuration: PORTCULLIS_HASH_THREADS must be a whole number from 1 to 1024, got "${threads}"\n`);
    process.exit(1);
  }
  process.env.UV_THREADPOOL_SIZE = threads;
}

const { register } = await import('tsx/esm/api');
register();
await import('../src/cli/index.ts');
