// The `type` filter of the events list and its live tail: an exact event type (`invoice.paid`) or a family of
// them, a prefix ending in `.*` (`customer.subscription.*`: every type that starts with `customer.subscription.`),
// as the catalogue and the workflows write such families.
import { ValidationError } from '../../errors.js';
import { optionalString } from '../input.js';

export interface EventTypeFilter {
  /** One type, exactly. */
  type?: string | undefined;
  /** Every type that starts with this text (which ends with a dot). */
  typePrefix?: string | undefined;
}

export function parseEventTypeFilter(query: Record<string, unknown>): EventTypeFilter {
  const raw = optionalString(query, 'type', 200);
  if (raw === undefined || !raw.includes('*')) return { type: raw };
  const prefix = raw.slice(0, -1);
  if (!raw.endsWith('.*') || prefix.includes('*') || prefix === '.') {
    throw new ValidationError(
      `type: ${JSON.stringify(raw)} is not an event type or a family of them; a family is a type prefix followed by ".*" ` +
        '(e.g. customer.subscription.*), and "*" may appear only there',
      { field: 'type' },
    );
  }
  return { typePrefix: prefix };
}
