// Which addresses outbound deliveries may reach. Private, loopback, link-local and other non-public ranges are
// refused (a webhook URL must not become a way into the operator's network) unless an operator allows them
// with SLUICE_OUTBOUND_ALLOW. Checked against the address actually connected to, at send time, so a DNS name
// that later resolves to an internal address is caught too.
import { BlockList, isIP } from 'node:net';
import type { Cidr } from '../lib/cidr.js';

const BLOCKED_V4: [string, number][] = [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.0.2.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['198.51.100.0', 24],
  ['203.0.113.0', 24],
  ['224.0.0.0', 4],
  ['240.0.0.0', 4],
];
const BLOCKED_V6: [string, number][] = [
  ['::', 128],
  ['::1', 128],
  ['64:ff9b::', 96],
  ['100::', 64],
  ['2001:db8::', 32],
  ['fc00::', 7],
  ['fe80::', 10],
  ['ff00::', 8],
];

export interface AddressPolicy {
  /** null when the address may be reached, else why not. */
  refuse(address: string): string | null;
}

export function createAddressPolicy(allowed: readonly Cidr[]): AddressPolicy {
  const blocked = new BlockList();
  for (const [a, p] of BLOCKED_V4) blocked.addSubnet(a, p, 'ipv4');
  for (const [a, p] of BLOCKED_V6) blocked.addSubnet(a, p, 'ipv6');
  const allow = new BlockList();
  for (const c of allowed) allow.addSubnet(c.address, c.prefix, c.family);
  return {
    refuse(address) {
      let ip = address;
      let family: 'ipv4' | 'ipv6' = isIP(ip) === 6 ? 'ipv6' : 'ipv4';
      // An IPv4-mapped IPv6 address reaches the IPv4 host: judge it as one.
      const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip);
      if (mapped) {
        ip = mapped[1]!;
        family = 'ipv4';
      }
      if (!isIP(ip)) return `"${address}" is not an IP address`;
      if (allow.check(ip, family)) return null;
      return blocked.check(ip, family) ? `${ip} is a private, loopback or reserved address (allow it with SLUICE_OUTBOUND_ALLOW)` : null;
    },
  };
}
