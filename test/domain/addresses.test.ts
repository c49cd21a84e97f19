import { describe, expect, it } from 'vitest';
import { addressBucket, addressRanges, isAddressRange } from '../../src/domain/addresses.ts';

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

  it('takes IPv4 only in dotted-quad form, not the shorthands ipaddr.js also reads', () => {
    for (const shorthand of ['127.1', '0x7f.0.0.1', '2130706433', '010.0.0.1', '1.2.3.04']) expect(addressBucket(shorthand), shorthand).toBe(shorthand);
  });
});

describe('addressRanges (who may read /metrics) and isAddressRange (the lists in settings)', () => {
  it('matches single addresses and CIDRs of both families', () => {
    const allowed = addressRanges(['127.0.0.1', '::1', '10.1.0.0/16', '2001:db8:a::/48']);
    for (const address of ['127.0.0.1', '::1', '0:0:0:0:0:0:0:1', '10.1.0.0', '10.1.255.255', '2001:db8:a::1', '2001:db8:a:ffff::1', '2001:DB8:A::2%eth0']) {
      expect(allowed(address), address).toBe(true);
    }
    for (const address of ['127.0.0.2', '10.2.0.1', '9.255.255.255', '2001:db8:b::1', '::2', '', 'localhost', '127.1']) {
      expect(allowed(address), address).toBe(false);
    }
  });

  it('matches an IPv4-mapped IPv6 address as the IPv4 address it maps, either side', () => {
    expect(addressRanges(['127.0.0.1'])('::ffff:127.0.0.1')).toBe(true);
    expect(addressRanges(['10.0.0.0/8'])('::ffff:a01:203')).toBe(true);
    expect(addressRanges(['::ffff:10.0.0.0/104'])('10.200.0.1')).toBe(true);
    expect(addressRanges(['::ffff:10.0.0.0/104'])('11.0.0.1')).toBe(false);
    expect(addressRanges(['127.0.0.1'])('::1')).toBe(false);
  });

  it('takes /0 as everything of its family, and nothing of the other', () => {
    expect(addressRanges(['0.0.0.0/0'])('203.0.113.7')).toBe(true);
    expect(addressRanges(['0.0.0.0/0'])('2001:db8::1')).toBe(false);
    expect(addressRanges(['::/0'])('2001:db8::1')).toBe(true);
  });

  it('says which entries are addresses or CIDRs', () => {
    for (const entry of ['10.0.0.1', '192.168.0.0/16', '::1', '2001:db8::/32', '0.0.0.0/0', '::/128', 'fe80::1%eth0']) expect(isAddressRange(entry), entry).toBe(true);
    for (const entry of ['', 'loopback', '10.0.0.0/33', '::/129', '10.0.0.0/8/8', '10.0.0.0/', '10.0.0.0/x', '10.0.0.0/0x8', '127.1', '0x7f.0.0.1', '10.0.0.0/1000']) {
      expect(isAddressRange(entry), entry).toBe(false);
    }
    expect(() => addressRanges(['10.0.0.0/33'])).toThrow(/not an address or CIDR/);
  });
});
