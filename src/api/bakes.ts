/** Starting a bake, the one way every trigger (HTTP, blob, timer, retry) does it, and recording a refused one. */

import type { DurableClient } from 'durable-functions';
import { newRunId } from '../runs/ids.ts';
import type { RunStore } from '../runs/store.ts';
import type { RunRecord, Trigger } from '../runs/record.ts';
import { Orchestration, type BakeInput } from '../pipeline/contracts.ts';
import type { BakeSpec, TemplateError } from '../template/spec.ts';

export interface BakeRequest {
  templateName: string;
  trigger: Trigger;
  spec: BakeSpec;
  /** A failed run whose completed steps the new run reuses. */
  resumeFrom?: string;
  /** The run id when the trigger derives it (a blob version); default a new one. */
  runId?: string;
}

/**
 * Writes the Pending run record, then starts the orchestration with the run id as its instance id, so the record
 * exists before anything can ask for it. Returns the run id.
 */
export async function startBake(client: DurableClient, runs: RunStore, request: BakeRequest, now = new Date()): Promise<string> {
  const runId = request.runId ?? newRunId(request.templateName, now);
  const record: RunRecord = {
    id: runId,
    templateName: request.templateName,
    trigger: request.trigger,
    status: 'Pending',
    createdAt: now.toISOString(),
    steps: [],
    outputs: { regions: {}, scaleSets: [] },
    spec: request.spec,
    ...(request.resumeFrom ? { resumeFrom: request.resumeFrom } : {}),
  };
  await runs.put(record);
  const input: BakeInput = {
    runId,
    templateName: request.templateName,
    trigger: request.trigger,
    spec: request.spec,
    ...(request.resumeFrom ? { resumeFrom: request.resumeFrom } : {}),
  };
  await client.startNew(Orchestration.bake, { instanceId: runId, input });
  return runId;
}

/** A trigger that cannot start a bake (an invalid template) leaves a Failed run record holding every error. */
export async function recordRefusedBake(
  runs: RunStore,
  request: { templateName: string; trigger: Trigger; errors: TemplateError[]; runId?: string },
  now = new Date(),
): Promise<string> {
  const runId = request.runId ?? newRunId(request.templateName, now);
  const count = request.errors.length;
  await runs.put({
    id: runId,
    templateName: request.templateName,
    trigger: request.trigger,
    status: 'Failed',
    createdAt: now.toISOString(),
    endedAt: now.toISOString(),
    steps: [],
    outputs: { regions: {}, scaleSets: [] },
    error: {
      step: 'validate-template',
      code: 'InvalidTemplate',
      message: `template ${request.templateName} has ${count} error${count === 1 ? '' : 's'}: ` +
        request.errors.map((e) => `${e.path}: ${e.message}`).join('; '),
    },
    templateErrors: request.errors.map(({ path, message }) => ({ path, message })),
  });
  return runId;
}

