import { describe, expect, it } from 'vitest';
import { describeAgent } from '../../src/services/device-names.ts';

// The common cases (and HeadlessChrome named Chrome) are in
// test/http/own-sessions.test.ts, beside the list that shows them.
describe('describeAgent: what bowser adds, and what stays ours', () => {
  it('names more browsers and systems by the names the list used before', () => {
    expect(describeAgent('Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 OPR/115.0.0.0')).toBe('Opera on Windows');
    expect(describeAgent('Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36')).toBe('Chrome on ChromeOS');
    expect(describeAgent('Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) CriOS/131.0 Mobile/15E148 Safari/604.1')).toBe('Chrome on iOS');
    expect(describeAgent('Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0')).toBe('Firefox on Linux');
  });

  it('names the command-line clients that call the API', () => {
    expect(describeAgent('node')).toBe('Node.js');
    expect(describeAgent('undici')).toBe('Node.js');
    expect(describeAgent('node-fetch/1.0 (+https://github.com/bitinn/node-fetch)')).toBe('Node.js');
  });

  it('reads no further than the first 512 characters of a header', () => {
    const padding = 'x'.repeat(512);
    expect(describeAgent(`${padding} Firefox/133.0`)).toBe('x'.repeat(60));
    expect(describeAgent(`Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0 ${'y'.repeat(1_000_000)}`)).toBe('Firefox on Windows');
  });

  it('keeps a browser it knows on a system it does not, and the start of a header it does not know', () => {
    expect(describeAgent('Mozilla/5.0 (Unknown) Gecko/20100101 Firefox/133.0')).toBe('Firefox');
    expect(describeAgent('Mozilla/5.0 (Windows NT 10.0; Win64; x64)')).toBe('Mozilla/5.0 (Windows NT 10.0; Win64; x64)');
  });
});
