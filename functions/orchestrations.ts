/**
 * Registers the bake orchestration, its sub-orchestrations, the bake lock entity and the activity that forwards a
 * cancel to the sub-orchestrations; the code lives in src/pipeline and src/activities.
 */

import * as df from 'durable-functions';
import { Activity } from '../src/activities/contracts.ts';
import { forwardCancel, wakeLockWaiter } from '../src/activities/raise-events.ts';
import { bake } from '../src/pipeline/bake.ts';
import { bakeLockEntity } from '../src/pipeline/bake-lock.ts';
import { Entity, Orchestration } from '../src/pipeline/contracts.ts';
import { awaitOperation } from '../src/pipeline/flow.ts';
import { releaseBakeLocks } from '../src/pipeline/release-locks.ts';
import { replicateRegion } from '../src/pipeline/replicate.ts';
import { rolloutScaleSet } from '../src/pipeline/rollout.ts';

df.app.orchestration(Orchestration.bake, bake);
df.app.orchestration(Orchestration.awaitOperation, awaitOperation);
df.app.orchestration(Orchestration.replicateRegion, replicateRegion);
df.app.orchestration(Orchestration.rolloutScaleSet, rolloutScaleSet);
df.app.orchestration(Orchestration.releaseBakeLocks, releaseBakeLocks);
df.app.entity(Entity.bakeLock, bakeLockEntity);
df.app.activity(Activity.forwardCancel, { handler: forwardCancel, extraInputs: [df.input.durableClient()] });
df.app.activity(Activity.wakeLockWaiter, { handler: wakeLockWaiter, extraInputs: [df.input.durableClient()] });
