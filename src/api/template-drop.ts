/**
 * The blob trigger's handler: a template dropped into container `templates` (`{name}.json`, `{name}.pkr.hcl`)
 * starts one bake of it, with the values files beside it (`{name}.parameters.json`, `{name}.pkrvars.hcl`).
 */

import { createHash } from 'node:crypto';
import type { InvocationContext } from '@azure/functions';
import type { DurableClient } from 'durable-functions';
import { newRunId } from '../runs/ids.ts';
import { TEMPLATE_NAME } from '../template/fields.ts';
import { TEMPLATE_FILE_NAMES, isTemplateName, loadTemplateFiles, templateFileRole, utf8Text } from '../template/stored.ts';
import type { TemplateError } from '../template/spec.ts';
import { recordRefusedBake, startBakeOnce } from './bakes.ts';
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

function bytesOf(blob: unknown): Uint8Array {
  if (blob instanceof Uint8Array) return blob;
  return Buffer.from(typeof blob === 'string' ? blob : JSON.stringify(blob), 'utf8');
}

/**
 * Each blob version fires once (the host keeps receipts). A drop Kiln cannot read (an invalid template, a file
 * that is not UTF-8, a name Kiln does not know) gives a Failed run record holding every error; nothing here throws
 * for bad input, so a bad upload never retries or poisons the trigger.
 */
export async function handleTemplateDrop(blob: unknown, client: DurableClient, context: InvocationContext): Promise<void> {
  const blobName = String(context.triggerMetadata?.name ?? '');
  const role = templateFileRole(blobName);
  if (role && role.role !== 'template') {
    context.log(`templates/${blobName}: values for template ${role.name}, read when that template is dropped or baked`);
    return;
  }
  const name = role?.name ?? blobName;
  const { runs, templates, config } = await services();
  const runId = runIdOf(name, context.triggerMetadata?.properties as BlobProperties | undefined);
  const refuse = async (errors: TemplateError[]): Promise<void> => {
    if (await runs.get(runId)) return;
    await recordRefusedBake(runs, { templateName: name, trigger: 'blob', errors, runId });
    const count = errors.length;
    context.warn(`templates/${blobName} is not a template Kiln can bake (${count} error${count === 1 ? '' : 's'}); run ${runId} records them`);
  };
  if (!role) {
    return refuse([{ path: blobName, message: `Kiln reads templates named ${TEMPLATE_FILE_NAMES}`, expected: TEMPLATE_FILE_NAMES, found: JSON.stringify(blobName) }]);
  }
  const decoded = utf8Text(blobName, bytesOf(blob));
  if ('error' in decoded) return refuse([decoded.error]);
  // The values beside this version of the template, as they are now: drop them first, then the template.
  const beside = TEMPLATE_NAME.test(name) && isTemplateName(name) ? await templates.read(name) : undefined;
  const files = {
    file: blobName,
    text: decoded.text,
    ...(beside?.parameters !== undefined ? { parameters: beside.parameters } : {}),
    ...(beside?.variables !== undefined ? { variables: beside.variables } : {}),
  };
  // Reading does no I/O: a throw is a reader's bug on this input, recorded for the user rather than retried to poison.
  const parsed = await loadTemplateFiles(files, { name, subscriptionId: config.subscriptionId })
    .catch((error: Error) => ({ ok: false as const, errors: [{ path: blobName, message: `Kiln could not read this file: ${error.message}` }] }));
  if (!parsed.ok) return refuse(parsed.errors);
  // Once per version, also when it is delivered again or twice at once: the first delivery makes the run, the others find it.
  const { record, created } = await startBakeOnce(client, runs, { templateName: name, trigger: 'blob', spec: parsed.spec, runId });
  if (!created) {
    if (record.trigger === 'blob') context.log(`templates/${blobName}: this version already started run ${runId}`);
    else context.warn(`templates/${blobName}: not baked: its run id ${runId} belongs to a ${record.trigger} run of ${record.templateName}`);
    return;
  }
  context.log(`templates/${blobName}: started bake ${runId}`);
  for (const warning of parsed.warnings) context.warn(`templates/${blobName}: ${warning.path}: ${warning.message}`);
}
