// Event types named by users (endpoint filters, REST Hooks subscriptions, sample and message queries) checked
// against the catalog and the workspace's own custom types, so a misspelt name is a 400 with a suggestion
// rather than a filter that silently never matches.
import { checkEventType, EVENT_TYPE_PATTERN } from '../../catalog/index.js';
import { customTypesOf } from '../../db/queries/messages.js';
import { UnknownEventTypeError, ValidationError } from '../../errors.js';
import type { Ctx } from '../context.js';

/** Throws for the first name that is malformed or unknown; `names` must already be strings. */
export async function checkEventTypes(ctx: Ctx, workspaceId: string, names: readonly string[], field: string): Promise<void> {
  names.forEach((t, i) => {
    if (t.length > 200 || !EVENT_TYPE_PATTERN.test(t)) {
      const at = names.length > 1 || field === 'eventTypes' ? `${field}[${i}]` : field;
      throw new ValidationError(
        `${at} must be an event type ("subscription.canceled"), a prefix ("subscription.*") or "*": lower-case words of letters, digits and underscores separated by dots`,
        { field },
      );
    }
  });
  let custom: string[] | undefined;
  for (const name of names) {
    if (checkEventType(name).ok) continue;
    custom ??= await customTypesOf(ctx.db, workspaceId);
    const result = checkEventType(name, custom);
    if (!result.ok) throw new UnknownEventTypeError(field, name, result.suggestion);
  }
}
