// Which addresses outbound deliveries may reach, and over which scheme. Every address is classified by
// ipaddr.js (a maintained list of special ranges); only plain `unicast` is reachable. IPv6 forms that carry an
// IPv4 address (mapped, IPv4-compatible, NAT64, 6to4, Teredo, SIIT) are judged by that IPv4 address, since that
// is the host they end up at. SLUICE_OUTBOUND_ALLOW opens chosen ranges (e.g. a local receiver in tests).
// Plain http is refused unless the address is inside SLUICE_OUTBOUND_ALLOW or SLUICE_OUTBOUND_ALLOW_HTTP=true:
// a webhook carries customer data and a signature that anyone on the path could replay.
// The sender checks again against the address it actually connects to, so DNS that later points a name at an
// internal address is caught too.
import ipaddr from 'ipaddr.js';
import type { Cidr } from '../lib/cidr.js';

type Address = ipaddr.IPv4 | ipaddr.IPv6;

export interface AddressPolicy {
  /** null when the address may be reached, else why not. */
  refuse(address: string): string | null;
  /** null when plain http may be used to this address, else why not. */
  refusePlainHttp(address: string): string | null;
}

const RANGE_NAMES: Record<string, string> = {
  private: 'a private',
  loopback: 'a loopback',
  linkLocal: 'a link-local',
  uniqueLocal: 'a unique-local (private)',
  multicast: 'a multicast',
  unspecified: 'an unspecified',
  broadcast: 'a broadcast',
  carrierGradeNat: 'a carrier-grade NAT',
  reserved: 'a reserved',
};

/** The IPv4 address an IPv6 address stands for, when it embeds one. */
export function embeddedIPv4(a: ipaddr.IPv6): ipaddr.IPv4 | null {
  const p = a.parts;
  const v4 = (hi: number, lo: number) => new ipaddr.IPv4([hi >> 8, hi & 0xff, lo >> 8, lo & 0xff]);
  switch (a.range()) {
    case 'ipv4Mapped': // ::ffff:a.b.c.d
    case 'rfc6145': // ::ffff:0:a.b.c.d
    case 'rfc6052': // 64:ff9b::a.b.c.d (NAT64)
      return v4(p[6]!, p[7]!);
    case '6to4': // 2002:AABB:CCDD::/48
      return v4(p[1]!, p[2]!);
    case 'teredo': // 2001:0:server:flags:port:~client
      return v4(p[6]! ^ 0xffff, p[7]! ^ 0xffff);
  }
  // IPv4-compatible (::a.b.c.d, deprecated by RFC 4291 but still routed to the IPv4 host by some stacks); :: and
  // ::1 are not of that form and keep their own ranges.
  if (p.slice(0, 6).every((x) => x === 0) && (p[6] !== 0 || p[7]! > 1)) return v4(p[6]!, p[7]!);
  return null;
}

function parseStrict(address: string): Address | null {
  const bare = address.replace(/^\[|\]$/g, '');
  if (ipaddr.IPv4.isValidFourPartDecimal(bare)) return ipaddr.IPv4.parse(bare);
  if (ipaddr.IPv6.isValid(bare)) return ipaddr.IPv6.parse(bare);
  return null;
}

export function createAddressPolicy(allowed: readonly Cidr[], opts: { allowHttp?: boolean } = {}): AddressPolicy {
  const ranges = allowed.map((c) => [ipaddr.parse(c.address), c.prefix] as [Address, number]);
  const inAllowList = (a: Address) => ranges.some(([net, bits]) => net.kind() === a.kind() && a.match([net, bits] as never));
  const judge = (address: string): { ok: true; allowListed: boolean } | { ok: false; why: string } => {
    const ip = parseStrict(address);
    if (!ip) return { ok: false, why: `"${address}" is not an IP address` };
    const inner = ip.kind() === 'ipv6' ? embeddedIPv4(ip as ipaddr.IPv6) : null;
    if (inAllowList(ip) || (inner && inAllowList(inner))) return { ok: true, allowListed: true };
    const judged = inner ?? ip;
    const range = judged.range();
    if (range === 'unicast') return { ok: true, allowListed: false };
    const shown = inner ? `${ip.toString()} (= ${inner.toString()})` : ip.toString();
    const what = RANGE_NAMES[range] ?? `a special-purpose (${range})`;
    return {
      ok: false,
      why: `${shown} is ${what} address, not reachable by webhooks (to allow it, list it in SLUICE_OUTBOUND_ALLOW where the Sluice server runs, and restart the server)`,
    };
  };
  return {
    refuse(address) {
      const r = judge(address);
      return r.ok ? null : r.why;
    },
    refusePlainHttp(address) {
      const r = judge(address);
      if (!r.ok) return r.why;
      if (opts.allowHttp || r.allowListed) return null;
      return `plain http to ${address} is refused: use https, or allow http with SLUICE_OUTBOUND_ALLOW_HTTP=true (or list the address in SLUICE_OUTBOUND_ALLOW)`;
    },
  };
}
