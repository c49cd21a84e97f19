import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { childEnv, portcullis } from '../helpers/cli.ts';
import { openRuntime } from '../../src/runtime.ts';
import type { Runtime } from '../../src/runtime.ts';
import { createAccount } from '../../src/services/accounts.ts';
import { signIn } from '../../src/services/sign-in.ts';

// Issue 15's break-glass: `portcullis account access clear --account ID`
// removes the allowed networks that leave everyone (the admins too) outside.

const PASSWORD = 'correct horse battery staple';

describe('portcullis account access clear (sqlite)', { timeout: 60_000 }, () => {
  let dir: string;
  let url: string;
  let runtime: Runtime;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'portcullis-access-'));
    url = `sqlite:${join(dir, 'p.db')}`;
    runtime = await openRuntime(childEnv(url), { logger: pino({ level: 'silent' }) });
  });
  afterAll(async () => {
    await runtime?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('lets the admin back in from anywhere, audited; an unknown account or a wrong call changes nothing', async () => {
    const { deps } = runtime;
    const account = await createAccount(deps, { name: 'Locked Out Co', adminUsername: 'root', adminPassword: PASSWORD }, { userId: null, label: 'test', ip: null });
    if (!account.ok) throw new Error(account.errors.join('; '));
    const { accountId } = account;
    await deps.store.accessRules.putRestriction(accountId, { ranges: [{ cidr: '192.0.2.0/24', label: 'Old office' }], appliesTo: 'everyone' }, deps.clock.now());
    const attempt = () => signIn(deps, { accountId, username: 'root', password: PASSWORD, ip: '198.51.100.9' });
    expect(await attempt()).toEqual({ ok: false, reason: 'network' });

    const usage = await portcullis(['account', 'access', 'clear'], { url });
    expect(usage.code).toBe(2);
    expect(usage.stderr).toContain('portcullis account access clear --account ID');
    const unknown = await portcullis(['account', 'access', 'clear', '--account', '99999999'], { url });
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('there is no account 99999999');
    expect((await deps.store.accessRules.get(accountId)).ranges).toHaveLength(1);

    const run = await portcullis(['account', 'access', 'clear', '--account', accountId], { url, env: { USER: 'ops' } });
    expect(run.code, run.stderr).toBe(0);
    expect(JSON.parse(run.stdout)).toEqual({ cleared: true, accountId, rangesRemoved: 1 });
    expect((await attempt()).ok).toBe(true);
    const events = await deps.store.audit.list(accountId, { limit: 50, offset: 0 });
    expect(events.find((e) => e.action === 'account.access_restriction')).toMatchObject({ actor: 'cli (ops)', detail: { cleared: true } });
  });
});
