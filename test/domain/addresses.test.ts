import { describe, expect, it } from 'vitest';
import { addressBucket } from '../../src/domain/addresses.ts';

describe('addressBucket (what a per-address throttle counts under)', () => {
  it('keeps an IPv4 address whole', () => {
    expect(addressBucket('203.0.113.7')).toBe('203.0.113.7');
    expect(addressBucket('203.0.113.8')).not.toBe(addressBucket('203.0.113.7'));
  });

  it('counts an IPv4-mapped IPv6 address as the IPv4 address it maps', () => {
    expect(addressBucket('::ffff:203.0.113.7')).toBe('203.0.113.7');
    expect(addressBucket('::ffff:cb00:7107')).toBe('203.0.113.7');
    expect(addressBucket('0:0:0:0:0:ffff:203.0.113.7')).toBe('203.0.113.7');
  });

  it('counts every IPv6 address of one /64 as one, however it is written', () => {
    const one = addressBucket('2001:db8:0:1::1');
    expect(one).toBe('2001:db8:0:1::/64');
    for (const same of ['2001:db8:0:1:ffff:ffff:ffff:ffff', '2001:0DB8:0000:0001:1234:5678:9abc:def0', '2001:db8::1:0:0:0:2', '2001:db8:0:1::1%eth0', '2001:db8:0:1:0:0:10.0.0.1']) {
      expect(addressBucket(same), same).toBe(one);
    }
  });

  it('keeps neighbouring /64s apart', () => {
    expect(addressBucket('2001:db8:0:2::1')).toBe('2001:db8:0:2::/64');
    expect(addressBucket('2001:db8:1:1::1')).toBe('2001:db8:1:1::/64');
    expect(addressBucket('::1')).toBe('0:0:0:0::/64');
    expect(addressBucket('fe80::1%lo')).toBe('fe80:0:0:0::/64');
    expect(addressBucket('64:ff9b::203.0.113.7')).toBe('64:ff9b:0:0::/64');
  });

  it('leaves anything that is not an address as it is', () => {
    expect(addressBucket('')).toBe('');
    expect(addressBucket('not-an-address')).toBe('not-an-address');
    expect(addressBucket('2001:db8::1::2')).toBe('2001:db8::1::2');
  });
});
