import { request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildTestApp } from '../helpers/app.ts';
import type { TestApp } from '../helpers/app.ts';

// Issue 16, finding 10: with PORTCULLIS_PUBLIC_URL unset any Host was served,
// so a DNS-rebinding page (its own name resolving to 127.0.0.1, with a
// matching Origin) signed in and read /metrics.
const REBOUND = 'rebind.attacker.example:3000';

describe('known hosts, PORTCULLIS_PUBLIC_URL unset', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await buildTestApp('sqlite');
  });
  afterAll(() => t.close());

  it('answers 421 to a rebinding name, for /metrics and for a sign-in with a matching Origin', async () => {
    const metrics = await t.app.inject({ method: 'GET', url: '/metrics', headers: { host: REBOUND } });
    expect(metrics.statusCode).toBe(421);
    expect(metrics.body).not.toContain('portcullis_');
    const login = await t.app.inject({
      method: 'POST',
      url: '/api/v1/login',
      headers: { host: REBOUND, origin: `http://${REBOUND}`, 'content-type': 'application/json' },
      payload: { accountId: '1', username: 'alice', password: 'x'.repeat(12) },
    });
    expect(login.statusCode).toBe(421);
    expect(login.json()).toMatchObject({ error: 'unknown_host' });
    expect(login.headers['set-cookie']).toBeUndefined();
  });

  it('refuses hosts that are not hosts at all', async () => {
    for (const host of ['user@127.0.0.1:3000', '127.0.0.1:3000/x', '127.0.0.2:3000', '10.0.0.1:3000']) {
      const res = await t.app.inject({ method: 'GET', url: '/healthz', headers: { host } });
      expect(res.statusCode, JSON.stringify(host)).toBe(421);
    }
  });

  it('serves the loopback names: 127.0.0.1, [::1] and localhost', async () => {
    for (const host of ['127.0.0.1:3000', '[::1]:3000', 'localhost:3000', 'LOCALHOST:3000']) {
      const res = await t.app.inject({ method: 'GET', url: '/healthz', headers: { host } });
      expect(res.statusCode, host).toBe(200);
    }
  });

  describe('listening on a real port', () => {
    let port: number;
    beforeAll(async () => {
      await t.app.listen({ port: 0, host: '127.0.0.1' });
      port = (t.app.server.address() as AddressInfo).port;
    });

    function get(host: string): Promise<number> {
      return new Promise((resolve, reject) => {
        const req = httpRequest({ host: '127.0.0.1', port, path: '/healthz', headers: { host } }, (res) => {
          res.resume();
          res.once('end', () => resolve(res.statusCode ?? 0));
        });
        req.once('error', reject);
        req.end();
      });
    }

    it('serves the listening address and localhost on its port, and nothing else', async () => {
      expect(await get(`127.0.0.1:${port}`)).toBe(200);
      expect(await get(`localhost:${port}`)).toBe(200);
      expect(await get(`localhost:${port === 1 ? 2 : 1}`)).toBe(421);
      expect(await get(`rebind.attacker.example:${port}`)).toBe(421);
    });

    it('answers each name the same way every time, also after more names than the check keeps (verdicts are kept per Host)', async () => {
      for (let round = 0; round < 2; round++) {
        for (let i = 0; i < 80; i++) expect(await get(`rebind${i}.attacker.example:${port}`)).toBe(421);
        expect(await get(`127.0.0.1:${port}`)).toBe(200);
        expect(await get(`localhost:${port === 1 ? 2 : 1}`)).toBe(421);
        expect(await get(`localhost:${port}`)).toBe(200);
      }
    });
  });
});

describe('known hosts, PORTCULLIS_PUBLIC_URL set', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await buildTestApp('sqlite', { PORTCULLIS_PUBLIC_URL: 'https://portcullis.example' });
  });
  afterAll(() => t.close());

  it("serves the public URL's host (and the loopback literals), not localhost or another name", async () => {
    const status = async (host: string) => (await t.app.inject({ method: 'GET', url: '/healthz', headers: { host } })).statusCode;
    expect(await status('portcullis.example')).toBe(200);
    expect(await status('portcullis.example:443')).toBe(200);
    expect(await status('127.0.0.1:3000')).toBe(200);
    expect(await status('portcullis.example:8443')).toBe(421);
    expect(await status('localhost:3000')).toBe(421);
    expect(await status('evil.example')).toBe(421);
  });
});
