import { connect } from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { loadSettings } from '../../src/config/settings.ts';
import { buildTestApp } from '../helpers/app.ts';
import type { TestApp } from '../helpers/app.ts';

// Issue 16, finding 7: a body trickled a byte at a time held a connection open
// for as long as the client liked. Here over a real socket, with the limit
// set small through its setting.
describe('a request that takes too long to arrive', () => {
  let t: TestApp;
  let port: number;

  beforeAll(async () => {
    t = await buildTestApp('sqlite', { PORTCULLIS_REQUEST_TIMEOUT_SECONDS: '1' });
    await t.app.listen({ port: 0, host: '127.0.0.1' });
    port = (t.app.server.address() as AddressInfo).port;
  });
  afterAll(() => t.close());

  it('is closed by the server while its body is still trickling in', async () => {
    const socket = connect({ port, host: '127.0.0.1' });
    const started = Date.now();
    let answer = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => (answer += chunk));
    const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
    socket.once('connect', () => {
      socket.write(`POST /api/v1/login HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nContent-Type: application/json\r\nContent-Length: 10000\r\n\r\n{`);
    });
    // The client side of the trickle: one byte every 100 ms, never the whole body.
    const trickle = setInterval(() => {
      if (!socket.destroyed && socket.writable) socket.write(' ');
    }, 100);
    socket.on('error', () => {}); // a reset after the server closes is the expected end
    onTestFinished(() => {
      clearInterval(trickle);
      socket.destroy(); // when the server never closed it (the old code), so the app can close
    });
    await closed;
    // Closed by the server: within the 1 s limit plus Node's check interval (half the header limit).
    expect(Date.now() - started).toBeLessThan(4000);
    expect(answer).toMatch(/^HTTP\/1\.1 408/);
  }, 8000);

  it('defaults to limits a slow phone still passes: 60 s for a request, 20 s for its headers', () => {
    expect(loadSettings({}).http).toEqual({ requestTimeoutMs: 60_000, headersTimeoutMs: 20_000, connectionTimeoutMs: 60_000 });
  });
});
