import { isIPv4, isIPv6 } from 'node:net';

// What a per-address throttle counts against. One IPv4 address is one
// client (or one NAT). One IPv6 host, though, picks any of the 2^64 interface
// ids of its subnet (RFC 4291 §2.5.4: global unicast interface ids are 64
// bits; RFC 8981 privacy addresses change them at will), so counting per full
// IPv6 address would give an attacker a fresh count per request. IPv6
// addresses are therefore counted per /64, the smallest subnet one site is
// given (RFC 6177 §3 recommends more, never less).

/**
 * The key a per-address throttle counts under: the IPv4 address itself (an
 * IPv4-mapped IPv6 address too), or the /64 prefix of an IPv6 address, as
 * `2001:db8:0:1::/64`. Anything that is not an IP address is its own key.
 */
export function addressBucket(address: string): string {
  const withoutZone = address.replace(/%.*$/, '');
  if (isIPv4(withoutZone)) return withoutZone;
  if (!isIPv6(withoutZone)) return address;
  const groups = ipv6Groups(withoutZone);
  const mapped = groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff;
  if (mapped) return [groups[6]! >> 8, groups[6]! & 0xff, groups[7]! >> 8, groups[7]! & 0xff].join('.');
  return `${groups
    .slice(0, 4)
    .map((g) => g.toString(16))
    .join(':')}::/64`;
}

/** The eight 16-bit groups of a valid IPv6 address (`::` and a dotted IPv4 tail expanded). */
function ipv6Groups(address: string): number[] {
  const parse = (part: string): number[] =>
    part === ''
      ? []
      : part.split(':').flatMap((group) => {
          if (!group.includes('.')) return [parseInt(group, 16)];
          const [a, b, c, d] = group.split('.').map(Number) as [number, number, number, number];
          return [(a << 8) | b, (c << 8) | d];
        });
  const [head = '', tail] = address.split('::');
  const first = parse(head);
  if (tail === undefined) return first;
  const last = parse(tail);
  return [...first, ...new Array<number>(8 - first.length - last.length).fill(0), ...last];
}
