// The address a per-client limit counts against. An IPv6 client is its /64: that is what one customer line, VPS or
// cloud instance is given, so counting each /128 on its own let a single client take a fresh address for every
// attempt. An IPv4-mapped IPv6 address (::ffff:a.b.c.d, what a dual-stack socket reports) is its IPv4 address.
import ipaddr from 'ipaddr.js';

export function limitedAddress(ip: string): string {
  if (!ipaddr.isValid(ip)) return ip;
  const address = ipaddr.process(ip);
  if (address.kind() === 'ipv4') return address.toString();
  const parts = (address as ipaddr.IPv6).parts.slice(0, 4);
  return `${parts.map((p) => p.toString(16)).join(':')}::/64`;
}
