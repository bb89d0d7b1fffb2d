// Placeholder: the real verb is built by another helper of issue 12 and replaces this file at merge.
import type { Ctx } from '../context.js';

export async function sampleLag(_ctx: Ctx): Promise<void> {
  throw new Error('sampleLag is not built yet');
}
