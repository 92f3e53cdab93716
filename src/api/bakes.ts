/** Starting a bake, the one way every trigger (HTTP, blob, timer, retry) does it, and recording a refused one. */

import * as df from 'durable-functions';
import type { DurableClient } from 'durable-functions';
import { newRunId } from '../runs/ids.ts';
import type { RunStore } from '../runs/store.ts';
import type { RunRecord, Trigger } from '../runs/record.ts';
import { imageLockKeys, type EnqueueRequest } from '../pipeline/bake-lock.ts';
import { Entity, Orchestration, type BakeInput } from '../pipeline/contracts.ts';
import type { BakeSpec, TemplateError } from '../template/spec.ts';
import { instanceState } from './instances.ts';

export interface BakeRequest {
  templateName: string;
  trigger: Trigger;
  spec: BakeSpec;
  /** A failed run whose completed steps the new run reuses. */
  resumeFrom?: string;
  /** The run id when the trigger derives it (a blob version); default a new one. */
  runId?: string;
}

function pendingRecord(runId: string, request: BakeRequest, now: Date): RunRecord {
  return {
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
}

function bakeInput(runId: string, request: BakeRequest, acceptedAt: string): BakeInput {
  return {
    runId,
    acceptedAt,
    templateName: request.templateName,
    trigger: request.trigger,
    spec: request.spec,
    ...(request.resumeFrom ? { resumeFrom: request.resumeFrom } : {}),
  };
}

/**
 * Takes the run's place in the queue of every image lock it will ask for, in the order bakes are accepted
 * (src/pipeline/bake-lock.ts): bakes of one image then publish in order of arrival. Queueing twice keeps the place.
 */
export async function enqueueOnImageLocks(client: DurableClient, runId: string, spec: BakeSpec, now: Date): Promise<void> {
  for (const key of imageLockKeys(spec)) {
    await client.signalEntity(new df.EntityId(Entity.bakeLock, key), 'enqueue', { runId, now: now.toISOString() } satisfies EnqueueRequest);
  }
}

/** Per image lock key, the acceptance in progress: the next one for that image waits for it. */
const accepting = new Map<string, Promise<unknown>>();
/** The last arrival time given: arrivals in this process are strictly increasing, so none tie. */
let lastArrival = 0;

/**
 * Accepts a bake of `spec`'s images: takes the arrival time and runs `place` (which queues the run on the locks) with
 * no other acceptance of those images in this process in between, so places land in the order of their arrival times
 * (an earlier arrival's place can no longer reach a lock after a later arrival already asked for it).
 */
async function inOrderOfArrival<T>(spec: BakeSpec, place: (arrivedAt: Date) => Promise<T>): Promise<T> {
  const keys = imageLockKeys(spec);
  const before = keys.map((key) => accepting.get(key) ?? Promise.resolve());
  const turn = Promise.allSettled(before).then(() => {
    lastArrival = Math.max(Date.now(), lastArrival + 1);
    return place(new Date(lastArrival));
  });
  const done = turn.catch(() => undefined);
  for (const key of keys) accepting.set(key, done);
  try {
    return await turn;
  } finally {
    for (const key of keys) if (accepting.get(key) === done) accepting.delete(key);
  }
}

/**
 * Writes the Pending run record and takes the run's places on its image locks, at its arrival and in that order (a
 * place never exists without its record, which the janitor watches), then starts the orchestration with the run id
 * as its instance id, so the record exists before anything can ask for it. Returns the run id.
 */
export async function startBake(client: DurableClient, runs: RunStore, request: BakeRequest): Promise<string> {
  const { runId, acceptedAt } = await inOrderOfArrival(request.spec, async (now) => {
    const id = request.runId ?? newRunId(request.templateName, now);
    await runs.put(pendingRecord(id, request, now));
    await enqueueOnImageLocks(client, id, request.spec, now);
    return { runId: id, acceptedAt: now.toISOString() };
  });
  await client.startNew(Orchestration.bake, { instanceId: runId, input: bakeInput(runId, request, acceptedAt) });
  return runId;
}

/**
 * As startBake for a run id derived from its cause (a retry): the first caller creates the run, every later or
 * concurrent caller gets that run back. A run whose record exists but whose bake never started (its creator died in
 * between) is started by whoever asks next. Returns the run's record and whether this call created it.
 */
export async function startBakeOnce(
  client: DurableClient,
  runs: RunStore,
  request: BakeRequest & { runId: string },
): Promise<{ record: RunRecord; created: boolean }> {
  // Arrival is when the record was first made, whoever made it; made and queued with no other acceptance between.
  const { record, created } = await inOrderOfArrival(request.spec, async (now) => {
    const fresh = pendingRecord(request.runId, request, now);
    const made = await runs.create(fresh);
    const found = made ? fresh : await runs.get(request.runId);
    if (!found) throw new Error(`run ${request.runId}: its record vanished right after it was created`);
    if (found.status === 'Pending' && found.resumeFrom === request.resumeFrom && found.trigger === request.trigger) {
      await enqueueOnImageLocks(client, request.runId, request.spec, new Date(found.createdAt));
    }
    return { record: found, created: made };
  });
  // A run of another cause under this id is the caller's to step past, never to start.
  if (record.resumeFrom !== request.resumeFrom || record.trigger !== request.trigger) return { record, created };
  // Only a run that no orchestration has touched yet may need starting: a purged instance of an old run must not.
  if (record.status === 'Pending') await startOnce(client, request.runId, bakeInput(request.runId, request, record.createdAt));
  return { record, created };
}

/** Starts the bake instance unless it exists: Azure would restart a finished one, and two concurrent starts conflict. */
async function startOnce(client: DurableClient, instanceId: string, input: BakeInput): Promise<void> {
  // A status that cannot be read is an error, not "missing": startNew on a finished instance would restart it.
  const exists = async (): Promise<boolean> => (await instanceState(client, instanceId)) !== undefined;
  if (await exists()) return;
  try {
    await client.startNew(Orchestration.bake, { instanceId, input });
  } catch (error) {
    if (!(await exists())) throw error;
  }
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

