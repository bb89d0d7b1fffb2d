// Text bounded in bytes rather than characters: a PostgreSQL b-tree entry has a size limit in bytes, and a
// character of UTF-8 takes one to four of them.

/** The longest prefix of `s` that takes at most `maxBytes` bytes in UTF-8, never splitting a character. */
export function utf8Prefix(s: string, maxBytes: number): string {
  // A UTF-16 code unit is at most three bytes of UTF-8 (a surrogate pair, two units, is four): short text needs
  // no encoding.
  if (s.length * 3 <= maxBytes) return s;
  const bytes = Buffer.from(s, 'utf8');
  if (bytes.length <= maxBytes) return s;
  let end = maxBytes;
  // Back up over continuation bytes (10xxxxxx) to the start of the character the limit cuts through.
  while (end > 0 && (bytes[end]! & 0xc0) === 0x80) end--;
  return bytes.subarray(0, end).toString('utf8');
}

/** Whether `s` takes more than `maxBytes` bytes in UTF-8. */
export function overUtf8Bytes(s: string, maxBytes: number): boolean {
  return s.length > maxBytes || (s.length * 3 > maxBytes && Buffer.byteLength(s, 'utf8') > maxBytes);
}
