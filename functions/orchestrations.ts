/**
 * Registers the bake orchestration, its sub-orchestrations, the bake lock and build quota entities and the activities
 * that raise events on other instances; the code lives in src/pipeline and src/activities.
 */

import * as df from 'durable-functions';
import { Activity } from '../src/activities/contracts.ts';
import { forwardCancel, wakeLockWaiter, wakeQuotaWaiters } from '../src/activities/raise-events.ts';
import { bake } from '../src/pipeline/bake.ts';
import { bakeLockEntity } from '../src/pipeline/bake-lock.ts';
import { Entity, Orchestration } from '../src/pipeline/contracts.ts';
import { awaitOperation } from '../src/pipeline/flow.ts';
import { buildQuotaEntity } from '../src/pipeline/quota-queue.ts';
import { freeBuildVm } from '../src/pipeline/quota-wait.ts';
import { releaseBakeLocks } from '../src/pipeline/release-locks.ts';
import { replicateRegion } from '../src/pipeline/replicate.ts';
import { rolloutScaleSet } from '../src/pipeline/rollout.ts';

df.app.orchestration(Orchestration.bake, bake);
df.app.orchestration(Orchestration.awaitOperation, awaitOperation);
df.app.orchestration(Orchestration.replicateRegion, replicateRegion);
df.app.orchestration(Orchestration.rolloutScaleSet, rolloutScaleSet);
df.app.orchestration(Orchestration.releaseBakeLocks, releaseBakeLocks);
df.app.orchestration(Orchestration.freeBuildVm, freeBuildVm);
df.app.entity(Entity.bakeLock, bakeLockEntity);
df.app.entity(Entity.buildQuota, buildQuotaEntity);
df.app.activity(Activity.forwardCancel, { handler: forwardCancel, extraInputs: [df.input.durableClient()] });
df.app.activity(Activity.wakeLockWaiter, { handler: wakeLockWaiter, extraInputs: [df.input.durableClient()] });
df.app.activity(Activity.wakeQuotaWaiters, { handler: wakeQuotaWaiters, extraInputs: [df.input.durableClient()] });
