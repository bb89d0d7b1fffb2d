// Placeholder: the real verb is built by another helper of issue 12 and replaces this file at merge.
import type { Ctx } from '../context.js';

export async function sweepParity(_ctx: Ctx): Promise<{ expired: number; checked: number }> {
  throw new Error('sweepParity is not built yet');
}
