#!/usr/bin/env node
// The `portcullis` command. Source is TypeScript run through tsx, so a checkout
// needs no build step: `npm ci` is all it takes.

const { register } = await import('tsx/esm/api');
register();
await import('../src/cli/index.ts');
