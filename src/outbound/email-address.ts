// Email address syntax, for the fields people write by hand (an SMTP sender, an email step's recipients). Not
// all of RFC 5322: what a relay accepts in practice, `box@domain.tld` or `Display Name <box@domain.tld>`, so a
// typo (`ann@example`, `ann.example.com`, two addresses in one string) is caught on save instead of by the relay
// at the first run. Pure.

/** A local part without spaces, brackets, quotes or separators; a domain of dotted labels ending in a top level
 *  of letters (or its punycode form, `xn--p1ai`). */
const ADDRESS = /^[^\s@<>()[\]\\,;:"]+@(?:[\p{L}\p{N}](?:[\p{L}\p{N}-]{0,61}[\p{L}\p{N}])?\.)+(?:\p{L}{1,63}|xn--[a-z0-9-]{1,59})$/iu;
const NAMED = /^(.*?)\s*<([^<>]*)>$/s;

export const MAX_ADDRESS_LENGTH = 320;

export interface ParsedAddress {
  address: string;
  name: string | null;
}

/** `box@domain` or `Name <box@domain>`, else null. */
export function parseAddress(raw: string): ParsedAddress | null {
  const s = raw.trim();
  if (s === '' || s.length > MAX_ADDRESS_LENGTH || /[\r\n\0]/.test(s)) return null;
  const named = NAMED.exec(s);
  const address = (named ? named[2]! : s).trim();
  if (!ADDRESS.test(address)) return null;
  let name = named ? named[1]!.trim() : '';
  if (name.startsWith('"') && name.endsWith('"') && name.length >= 2) name = name.slice(1, -1);
  if (/[<>]/.test(name)) return null;
  return { address, name: name === '' ? null : name };
}

/** Why `raw` is not an address, in words a person can act on; null when it is one. */
export function addressProblem(raw: unknown): string | null {
  if (typeof raw !== 'string') return 'must be an email address as a string';
  if (parseAddress(raw)) return null;
  if (/[,;]/.test(raw)) return `${JSON.stringify(raw)} holds more than one address; give a list, one address each`;
  return `${JSON.stringify(raw)} is not an email address (box@domain.tld, or Name <box@domain.tld>)`;
}

/** The domain of an address (for a Message-ID), or null. */
export function domainOf(raw: string): string | null {
  const a = parseAddress(raw);
  return a ? a.address.slice(a.address.lastIndexOf('@') + 1).toLowerCase() : null;
}
