// Standard Webhooks signing (https://www.standardwebhooks.com): the signed content is
// "<webhook-id>.<webhook-timestamp>.<body>", HMAC-SHA256 keyed with the base64 bytes after "whsec_", sent as
// "v1,<base64>"; several signatures are space-separated, which is how a rotation keeps both secrets valid.
import { createHmac, randomBytes } from 'node:crypto';

const PREFIX = 'whsec_';

/** A new endpoint secret: 32 random bytes, base64, with the whsec_ prefix receivers' libraries expect. */
export function generateEndpointSecret(): string {
  return PREFIX + randomBytes(32).toString('base64');
}

export function isEndpointSecret(s: string): boolean {
  if (!s.startsWith(PREFIX)) return false;
  const key = Buffer.from(s.slice(PREFIX.length), 'base64');
  return key.length >= 24 && key.length <= 64 && key.toString('base64') === s.slice(PREFIX.length);
}

export function signatureHeader(input: { id: string; timestamp: number; body: string; secrets: string[] }): string {
  const content = `${input.id}.${input.timestamp}.${input.body}`;
  return input.secrets
    .map((secret) => {
      const key = Buffer.from(secret.slice(PREFIX.length), 'base64');
      return `v1,${createHmac('sha256', key).update(content).digest('base64')}`;
    })
    .join(' ');
}
