// A Piano webhook, verified: the HMAC checked, `data` decrypted, the JSON parsed and its `aid` matched to the
// connection. Pure: takes the data string and the connection's key, returns the event or why not.
import { decryptPianoData, type PianoFailureReason } from './crypto.js';

export type PianoVerifyReason = PianoFailureReason | 'aid_mismatch';

export interface PianoEvent {
  /** The decrypted JSON text: the canonical content, whatever base64 variant carried it (the dedupe key's source). */
  plaintext: string;
  /** 1 when the payload has no `version` (the deprecated format). */
  version: number;
  type: string;
  event: string | null;
  aid: string;
  uid: string | null;
  payload: Record<string, unknown>;
}

export function verifyPianoWebhook(input: {
  data: string | undefined;
  privateKey: string;
  aid: string;
  requireHmac?: boolean;
}): { ok: true; event: PianoEvent } | { ok: false; reason: PianoVerifyReason } {
  const decrypted = decryptPianoData(input.data, input.privateKey, { requireHmac: input.requireHmac ?? true });
  if (!decrypted.ok) return decrypted;
  let payload: unknown;
  try {
    payload = JSON.parse(decrypted.plaintext);
  } catch {
    return { ok: false, reason: 'not_json' };
  }
  if (payload === null || typeof payload !== 'object' || Array.isArray(payload)) return { ok: false, reason: 'not_json' };
  const p = payload as Record<string, unknown>;
  if (String(p.aid ?? '') !== input.aid) return { ok: false, reason: 'aid_mismatch' };
  const version = p.version === undefined || p.version === null ? 1 : Number(p.version);
  return {
    ok: true,
    event: {
      plaintext: decrypted.plaintext,
      version: Number.isFinite(version) ? version : 1,
      type: typeof p.type === 'string' && p.type ? p.type : 'unknown',
      event: typeof p.event === 'string' ? p.event : null,
      aid: input.aid,
      uid: typeof p.uid === 'string' ? p.uid : null,
      payload: p,
    },
  };
}
