import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildTestApp } from '../helpers/app.ts';
import type { TestApp } from '../helpers/app.ts';
import { PASSWORD, seedTenant, TestBrowser } from '../helpers/client.ts';
import type { Tenant } from '../helpers/client.ts';

describe('GET /metrics', () => {
  let t: TestApp;
  let tenant: Tenant;

  beforeAll(async () => {
    t = await buildTestApp('sqlite');
    tenant = await seedTenant(t.deps);
  });
  afterAll(() => t.close());

  const scrape = (ip = '127.0.0.1') => t.app.inject({ method: 'GET', url: '/metrics', remoteAddress: ip });

  it('counts sign-ins by outcome, locks, and request latency, in Prometheus text format', async () => {
    await new TestBrowser(t.app).signIn(tenant.accountId, 'alice', PASSWORD);
    for (let i = 0; i < 10; i++) await new TestBrowser(t.app, undefined, '10.1.0.1').signIn(tenant.accountId, 'bob', 'wrong password here');
    const res = await scrape();
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toContain('text/plain');
    expect(res.body).toMatch(/^portcullis_sign_ins_total\{outcome="success"\} 1$/m);
    expect(res.body).toMatch(/^portcullis_sign_ins_total\{outcome="failure"\} 10$/m);
    expect(res.body).toMatch(/^portcullis_locks_total\{scope="password"\} 1$/m);
    expect(res.body).toMatch(/^portcullis_http_request_duration_seconds_count\{method="POST",route="\/login",status="401"\} \d+$/m);
  });

  it('answers 404 to an address that is not allowed to scrape', async () => {
    expect((await scrape('203.0.113.9')).statusCode).toBe(404);
    expect((await scrape('::1')).statusCode).toBe(200);
  });
});
