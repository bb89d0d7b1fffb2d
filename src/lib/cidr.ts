// CIDR lists from configuration ("127.0.0.0/8, fd00::/8"); a bare address means that one host. Parsed by
// ipaddr.js, strictly: only dotted-quad IPv4 and standard IPv6 text, so "0x7f.1" is refused rather than guessed.
import ipaddr from 'ipaddr.js';

export interface Cidr {
  address: string;
  prefix: number;
  family: 'ipv4' | 'ipv6';
}

function parseOne(raw: string): Cidr | null {
  const [address = '', bits, ...rest] = raw.split('/');
  if (rest.length > 0) return null;
  const family = ipaddr.IPv4.isValidFourPartDecimal(address) ? 'ipv4' : ipaddr.IPv6.isValid(address) ? 'ipv6' : null;
  if (!family) return null;
  const max = family === 'ipv6' ? 128 : 32;
  const prefix = bits === undefined ? max : /^\d{1,3}$/.test(bits) ? Number(bits) : NaN;
  if (!Number.isInteger(prefix) || prefix < 0 || prefix > max) return null;
  return { address: ipaddr.parse(address).toString(), prefix, family };
}

export function parseCidrs(list: string): { cidrs: Cidr[]; problems: string[] } {
  const cidrs: Cidr[] = [];
  const problems: string[] = [];
  for (const raw of list
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)) {
    const cidr = parseOne(raw);
    if (cidr) cidrs.push(cidr);
    else problems.push(`"${raw}" is not a CIDR (e.g. 127.0.0.0/8, fd00::/8)`);
  }
  return { cidrs, problems };
}
