/** The blob trigger's handler: a template dropped into container `templates` starts one bake of it. */

import { createHash } from 'node:crypto';
import type { InvocationContext } from '@azure/functions';
import type { DurableClient } from 'durable-functions';
import { newRunId } from '../runs/ids.ts';
import { loadTemplate } from '../template/index.ts';
import { recordRefusedBake, startBake } from './bakes.ts';
import { services } from './services.ts';

interface BlobProperties {
  eTag?: string;
  lastModified?: string;
}

/**
 * The run id of one blob version: its time and a suffix from its ETag. A redelivered version (a host that stopped
 * between starting the bake and noting the receipt) finds its run already there instead of baking twice.
 */
function runIdOf(name: string, properties: BlobProperties | undefined): string {
  const at = properties?.lastModified ? new Date(properties.lastModified) : new Date();
  if (!properties?.eTag) return newRunId(name, at);
  const suffix = createHash('sha256').update(properties.eTag).digest('hex').slice(0, 4);
  return newRunId(name, at, () => suffix);
}

/**
 * Each blob version fires once (the host keeps receipts). An invalid template gives a Failed run record holding
 * every validation error; nothing here throws for bad input, so a bad upload never retries or poisons the trigger.
 */
export async function handleTemplateDrop(blob: unknown, client: DurableClient, context: InvocationContext): Promise<void> {
  const name = String(context.triggerMetadata?.name ?? '');
  const { runs, config } = await services();
  const runId = runIdOf(name, context.triggerMetadata?.properties as BlobProperties | undefined);
  const text = Buffer.isBuffer(blob) ? blob.toString('utf8') : typeof blob === 'string' ? blob : JSON.stringify(blob);
  const parsed = await loadTemplate({ path: name, text }, { name, subscriptionId: config.subscriptionId });
  if (!parsed.ok) {
    if (await runs.get(runId)) return;
    await recordRefusedBake(runs, { templateName: name, trigger: 'blob', errors: parsed.errors, runId });
    const count = parsed.errors.length;
    context.warn(`templates/${name}.json is not a valid template (${count} error${count === 1 ? '' : 's'}); run ${runId} records them`);
    return;
  }
  // The orchestration, not the record, says whether this version's bake started (the record is written first).
  if ((await client.getStatus(runId).catch(() => undefined))?.runtimeStatus) {
    context.log(`templates/${name}.json: this version already started run ${runId}`);
    return;
  }
  await startBake(client, runs, { templateName: name, trigger: 'blob', spec: parsed.spec, runId });
  context.log(`templates/${name}.json: started bake ${runId}`);
  for (const warning of parsed.warnings) context.warn(`templates/${name}.json: ${warning.path}: ${warning.message}`);
}
