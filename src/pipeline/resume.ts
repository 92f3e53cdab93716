/**
 * Resume, not rebuild: which steps of a failed run a new run reuses. A captured image is reused only when every
 * step that made it succeeded; later steps are reused in order while they succeeded too.
 */

import type { StepName } from '../activities/contracts.ts';
import type { RunOutputs, RunRecord } from '../runs/record.ts';

export interface ResumePlan {
  /** The gallery version to plan again instead of the next one. */
  reuseVersion?: string;
  /** Steps not run again, with the outputs they produced. */
  reused: StepName[];
  outputs: Partial<RunOutputs>;
}

const IMAGE_STEPS: StepName[] = ['stage', 'customize', 'validate', 'generalize', 'capture'];
/** After the image: reusable in this order, each only if the one before was reused. */
const AFTER_IMAGE: StepName[] = ['replicate', 'promote', 'approve'];

export function resumePlan(previous: RunRecord): ResumePlan {
  const status = (name: StepName) => previous.steps.find((s) => s.name === name)?.status;
  const imageDone =
    status('capture') === 'Succeeded' &&
    previous.outputs.version !== undefined &&
    IMAGE_STEPS.every((name) => status(name) === 'Succeeded' || status(name) === 'Skipped');
  if (!imageDone) return { reused: [], outputs: {} };
  const reused = [...IMAGE_STEPS];
  for (const name of AFTER_IMAGE) {
    if (status(name) !== 'Succeeded') break;
    reused.push(name);
  }
  const { imageVersionId, version, sourceVersion, artifacts, regions } = previous.outputs;
  return {
    reuseVersion: version,
    reused,
    outputs: {
      ...(imageVersionId ? { imageVersionId } : {}),
      ...(version ? { version } : {}),
      ...(sourceVersion ? { sourceVersion } : {}),
      ...(artifacts ? { artifacts } : {}),
      ...(reused.includes('replicate') ? { regions } : {}),
    },
  };
}
