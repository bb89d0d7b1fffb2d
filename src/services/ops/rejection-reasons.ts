// Why a webhook was refused, in the words of the person who has to fix it, and what to do about each reason.
// The reasons are the ones counted in inbound_rejections (SignatureFailureReason and Piano's aid_mismatch).

export interface ReasonText {
  /** What happened, in plain words. */
  words: string;
  /** What to do about it. */
  fix: string;
}

const REASONS: Record<string, ReasonText> = {
  signature_mismatch: {
    words: 'The signature did not match any signing secret stored for this workspace.',
    fix: "Copy the signing secret again from the endpoint's page in the Stripe dashboard (Developers → Webhooks) and store it in Settings. During a rotation, keep the old secret until Stripe uses the new one.",
  },
  timestamp_outside_tolerance: {
    words: "The signature's timestamp was too old or in the future (replay protection).",
    fix: "Check this server's clock (NTP). If Stripe retried an old delivery, it will pass once the clock is right; a proxy that holds requests for minutes must forward them sooner.",
  },
  missing_header: {
    words: 'The request had no Stripe-Signature header.',
    fix: 'Something other than Stripe posted to the webhook URL, or a proxy drops the header: let the Stripe-Signature header through unchanged.',
  },
  malformed_header: {
    words: 'The Stripe-Signature header could not be read.',
    fix: 'A proxy or script changed the header. Stripe sends t=<time>,v1=<signature>: forward it unchanged.',
  },
  no_signatures: {
    words: 'The Stripe-Signature header carried no v1 signature.',
    fix: 'Only v1 signatures are accepted: send events from Stripe itself (or the Stripe CLI), not a hand-made request.',
  },
  invalid_payload: {
    words: 'The signed body was not a Stripe event.',
    fix: 'Post the event exactly as Stripe sends it; a proxy must not re-encode the body (signatures cover the exact bytes).',
  },
  missing_data: {
    words: 'The Piano webhook had no data parameter.',
    fix: 'Point Piano at the Piano webhook URL shown in Settings, and let the request through unchanged.',
  },
  malformed_data: {
    words: "The Piano data parameter was not Piano's encrypted text.",
    fix: 'Something other than Piano posted to the URL, or a proxy changed the query string: forward it unchanged.',
  },
  hmac_missing: {
    words: 'The Piano data parameter carried no HMAC part.',
    fix: "Turn HMAC on for webhooks in Piano, or (less safe) turn off 'require HMAC' for Piano in Settings.",
  },
  hmac_mismatch: {
    words: "The Piano HMAC did not match this workspace's private key.",
    fix: "Paste the application's private key again from Piano (Manage → Edit business → API keys) in Settings: it must be the key of this aid.",
  },
  undecryptable: {
    words: "The Piano data did not decrypt with this workspace's private key.",
    fix: 'The private key stored in Settings is not the one of the application sending the webhooks: paste the right one.',
  },
  not_json: {
    words: 'The Piano data decrypted, but was not a JSON object.',
    fix: 'Check that the webhook comes from Piano; if it does, report it with the event time.',
  },
  aid_mismatch: {
    words: 'The Piano webhook was for another application (aid) than the one connected.',
    fix: 'Point the other application at its own workspace, or connect this workspace to the aid that sends the webhooks.',
  },
};

export function explainRejection(reason: string): ReasonText {
  return REASONS[reason] ?? { words: `Refused: ${reason}.`, fix: 'See the server log around the time of the failure.' };
}
