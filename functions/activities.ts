/** Registers every bake activity under its contract name (src/activities/contracts.ts); the handlers live in src/activities. */

import * as df from 'durable-functions';
import { KilnStepError } from '../src/azure/errors.ts';
import { beginCapture } from '../src/activities/capture.ts';
import { Activity } from '../src/activities/contracts.ts';
import { beginCustomizer } from '../src/activities/customize.ts';
import { beginDeallocate, beginDeprovision, generalizeVm } from '../src/activities/generalize.ts';
import { planBake } from '../src/activities/plan.ts';
import { lookingQuickly, watchOperation } from '../src/activities/quick-looks.ts';
import { pollOperation } from '../src/activities/poll.ts';
import { beginPromote } from '../src/activities/promote.ts';
import { beginReplication, readReplication } from '../src/activities/replicate.ts';
import {
  beginCancelRollingUpgrade,
  beginInstanceUpgrade,
  beginRollingUpgrade,
  beginScaleSetModel,
  readInstances,
  readRollingUpgrade,
  readScaleSet,
} from '../src/activities/rollout.ts';
import { loadRunRecord, saveRunProgress, saveRunRecord } from '../src/activities/run-records.ts';
import { beginDeleteStagingGroup, createStagingGroup } from '../src/activities/stage-group.ts';
import { beginStagingNetwork } from '../src/activities/stage-network.ts';
import { beginStagingVm } from '../src/activities/stage-vm.ts';

// The begin… activities a bake awaits as operations look at them quickly first (src/pipeline/flow.ts counts on it).
const handlers = {
  [Activity.loadRunRecord]: loadRunRecord,
  [Activity.saveRunRecord]: saveRunRecord,
  [Activity.saveRunProgress]: saveRunProgress,
  [Activity.planBake]: planBake,
  [Activity.createStagingGroup]: lookingQuickly(createStagingGroup),
  [Activity.beginStagingNetwork]: lookingQuickly(beginStagingNetwork),
  [Activity.beginStagingVm]: lookingQuickly(beginStagingVm),
  [Activity.beginCustomizer]: lookingQuickly(beginCustomizer),
  [Activity.beginDeprovision]: lookingQuickly(beginDeprovision),
  [Activity.beginDeallocate]: lookingQuickly(beginDeallocate),
  [Activity.generalizeVm]: lookingQuickly(generalizeVm),
  [Activity.beginCapture]: lookingQuickly(beginCapture),
  [Activity.beginReplication]: beginReplication,
  [Activity.readReplication]: readReplication,
  [Activity.beginPromote]: lookingQuickly(beginPromote),
  [Activity.readScaleSet]: readScaleSet,
  [Activity.beginScaleSetModel]: lookingQuickly(beginScaleSetModel),
  [Activity.beginInstanceUpgrade]: lookingQuickly(beginInstanceUpgrade),
  [Activity.readInstances]: readInstances,
  [Activity.readRollingUpgrade]: readRollingUpgrade,
  [Activity.beginRollingUpgrade]: beginRollingUpgrade,
  [Activity.beginCancelRollingUpgrade]: lookingQuickly(beginCancelRollingUpgrade),
  [Activity.beginDeleteStagingGroup]: lookingQuickly(beginDeleteStagingGroup),
  [Activity.pollOperation]: pollOperation,
  [Activity.watchOperation]: watchOperation,
} as const;

for (const [name, handler] of Object.entries(handlers)) {
  df.app.activity(name, { handler: handler as df.ActivityHandler });
}

// A thrown activity error tells the orchestration whether Kiln judged it transient, and about which resource.
df.app.setExceptionPropertiesProvider({
  getExceptionProperties(error) {
    if (!(error instanceof KilnStepError)) return undefined;
    return { retryable: error.retryable, ...(error.code ? { code: error.code } : {}), ...(error.resourceId ? { resourceId: error.resourceId } : {}) };
  },
});
