/** The blob trigger's handler: a template dropped into container `templates` starts one bake of it. */

import type { InvocationContext } from '@azure/functions';
import type { DurableClient } from 'durable-functions';
import { parseTemplateText } from '../template/index.ts';
import { recordRefusedBake, startBake } from './bakes.ts';
import { services } from './services.ts';

/**
 * Each blob version fires once (the host keeps receipts). An invalid template gives a Failed run record holding
 * every validation error; nothing here throws for bad input, so a bad upload never retries or poisons the trigger.
 */
export async function handleTemplateDrop(blob: unknown, client: DurableClient, context: InvocationContext): Promise<void> {
  const name = String(context.triggerMetadata?.name ?? '');
  const { runs } = await services();
  const text = Buffer.isBuffer(blob) ? blob.toString('utf8') : typeof blob === 'string' ? blob : JSON.stringify(blob);
  const parsed = parseTemplateText(text, { name });
  if (!parsed.ok) {
    const runId = await recordRefusedBake(runs, { templateName: name, trigger: 'blob', errors: parsed.errors });
    context.warn(`templates/${name}.json is not a valid template (${parsed.errors.length} error${parsed.errors.length === 1 ? '' : 's'}); run ${runId} records them`);
    return;
  }
  const runId = await startBake(client, runs, { templateName: name, trigger: 'blob', spec: parsed.spec });
  context.log(`templates/${name}.json: started bake ${runId}`);
}
