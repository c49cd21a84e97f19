import ipaddr from 'ipaddr.js';

// Client addresses, parsed by ipaddr.js (the parser Fastify's proxy-addr
// uses for X-Forwarded-For). Ours is only which spellings count: IPv4 in
// dotted-quad form alone, as sockets report it and as node:net's isIP takes
// it. ipaddr.js also takes the inet_aton shorthands ("127.1", "0x7f.0.0.1",
// "2130706433", "010.0.0.1" in octal); in a trusted-proxy or /metrics list
// they would let one written entry mean an address its reader does not see.

type Address = ipaddr.IPv4 | ipaddr.IPv6;

/** The address `text` spells (an IPv6 zone id ignored), or undefined. */
function parseAddress(text: string): Address | undefined {
  const withoutZone = text.replace(/%.*$/, '');
  if (ipaddr.IPv4.isValidFourPartDecimal(withoutZone)) return ipaddr.IPv4.parse(withoutZone);
  if (ipaddr.IPv6.isValid(withoutZone)) return ipaddr.IPv6.parse(withoutZone);
  return undefined;
}

/** An IPv4-mapped IPv6 address (`::ffff:203.0.113.7`) as the IPv4 address it maps; others as they are. */
function unmapped(address: Address): Address {
  return address instanceof ipaddr.IPv6 && address.isIPv4MappedAddress() ? address.toIPv4Address() : address;
}

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
  const parsed = parseAddress(address);
  if (!parsed) return address;
  const plain = unmapped(parsed);
  if (plain instanceof ipaddr.IPv4) return plain.toString();
  // Written as before ipaddr.js, not as RFC 5952 would ("::/64"): the keys
  // of counts already stored stay the same.
  return `${plain.parts
    .slice(0, 4)
    .map((group) => group.toString(16))
    .join(':')}::/64`;
}

/** An address (a /32 or /128) or a CIDR, as an address and a prefix length; undefined when malformed. */
function parseRange(entry: string): [Address, number] | undefined {
  const [text = '', prefix, ...rest] = entry.trim().split('/');
  const address = parseAddress(text);
  if (!address || rest.length > 0) return undefined;
  const bits = address.kind() === 'ipv4' ? 32 : 128;
  if (prefix !== undefined && !/^\d{1,3}$/.test(prefix)) return undefined;
  const length = prefix === undefined ? bits : Number(prefix);
  if (length > bits) return undefined;
  const plain = unmapped(address);
  // ::ffff:10.0.0.0/104 is 10.0.0.0/8: mapped addresses are matched as IPv4.
  return plain === address ? [address, length] : [plain, Math.max(0, length - 96)];
}

/** Whether `entry` is an address or a CIDR (`10.0.0.0/8`, `2001:db8::/32`). */
export function isAddressRange(entry: string): boolean {
  return parseRange(entry) !== undefined;
}

/**
 * A test of whether an address is in one of `entries` (addresses or CIDRs,
 * checked with isAddressRange first). An IPv4-mapped IPv6 address is tested
 * as the IPv4 address it maps; anything that is not an address is in none.
 */
export function addressRanges(entries: string[]): (address: string) => boolean {
  const ranges = entries.map((entry) => {
    const range = parseRange(entry);
    if (!range) throw new Error(`not an address or CIDR: "${entry}"`);
    return range;
  });
  return (address) => {
    const parsed = parseAddress(address);
    if (!parsed) return false;
    const plain = unmapped(parsed);
    return ranges.some(([network, length]) => network.kind() === plain.kind() && plain.match(network, length));
  };
}

// What a proxy writes into X-Forwarded-For is an address, or an address and a
// port, bracketed when IPv6 ("[2001:db8::1]:443", as in RFC 7239 §6's node
// syntax, which some proxies also use here). Nothing else is an address: not
// "unknown", not an obfuscated identifier, not a phone number.

/**
 * The address an X-Forwarded-For entry names, in canonical form (IPv6 as
 * RFC 5952 writes it, an IPv4-mapped address as its IPv4 address), brackets,
 * port and zone id taken off; undefined when it names none.
 */
export function forwardedAddress(entry: string): string | undefined {
  const text = entry.trim();
  const bracketed = /^\[([^\]]+)\](?::\d{1,5})?$/.exec(text);
  const withPort = /^(\d{1,3}(?:\.\d{1,3}){3}):\d{1,5}$/.exec(text);
  const candidate = bracketed?.[1] ?? withPort?.[1] ?? text;
  const parsed = parseAddress(candidate);
  // A bracket holds IPv6 only (RFC 3986 §3.2.2).
  if (!parsed || (bracketed && parsed.kind() !== 'ipv6')) return undefined;
  return unmapped(parsed).toString();
}
