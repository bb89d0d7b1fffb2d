// CIDR lists from configuration ("127.0.0.0/8, fd00::/8"); a bare address means that one host.
import { isIP } from 'node:net';

export interface Cidr {
  address: string;
  prefix: number;
  family: 'ipv4' | 'ipv6';
}

export function parseCidrs(list: string): { cidrs: Cidr[]; problems: string[] } {
  const cidrs: Cidr[] = [];
  const problems: string[] = [];
  for (const raw of list
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)) {
    const [address = '', bits] = raw.split('/');
    const family = isIP(address);
    const max = family === 6 ? 128 : 32;
    const prefix = bits === undefined ? max : Number(bits);
    if (!family || !Number.isInteger(prefix) || prefix < 0 || prefix > max)
      problems.push(`"${raw}" is not a CIDR (e.g. 127.0.0.0/8, fd00::/8)`);
    else cidrs.push({ address, prefix, family: family === 6 ? 'ipv6' : 'ipv4' });
  }
  return { cidrs, problems };
}
