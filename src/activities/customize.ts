/**
 * Steps 4 and 5, customize and validate: each customizer or in-VM validation is one managed Run Command. Secrets
 * are read from Key Vault here and handed over as protectedParameters; the full output comes back through append
 * blobs and goes, masked, to the run's log. The Run Command goes with the VM, so its cleanup is the VM's.
 */

import type { AzureClients } from '../azure/clients.ts';
import { KilnStepError, permanentError } from '../azure/errors.ts';
import { runCommandId } from '../azure/ids.ts';
import { resolveSecrets } from '../azure/keyVault.ts';
import { deleteRunCommandBlobs, prepareRunCommandBlobs, readRunCommandBlobs } from '../azure/runCommandBlobs.ts';
import { getRunCommand, startDeleteRunCommand, startRunCommand, type RunCommandView } from '../azure/runCommands.ts';
import type { Customizer, InVMValidation, SecretRef } from '../template/spec.ts';
import type { BeginCustomizerInput, OperationStatus } from './contracts.ts';
import { activityEnvironment, type ActivityEnvironment } from './environment.ts';
import { followOutput, followRunning, startLiveOutput, type LiveCursor } from './live-output.ts';
import { lastLines, maskSecrets } from './masking.ts';
import { runCommandName } from './naming.ts';
import { operationStatus } from './outcomes.ts';
import type { Pollers } from './poll.ts';
import { bootTimeIn, customizerScript, type RunCommandScript } from './scripts.ts';
import { withUploadUrls } from './uploads.ts';
import { continueUpdates } from './windows-update.ts';
import { restartWait } from './windows-restart.ts';

export const RUN_COMMAND = 'run-command';

/** What each look at a customizer or validation step needs again (the restart wait after it carries it too). */
export interface CustomizerCommand {
  runId: string;
  resourceGroup: string;
  vm: string;
  /** The Run Command's name (a WindowsUpdate pass after the first has its own). */
  name: string;
  phase: BeginCustomizerInput['phase'];
  /** The step's name in the template. */
  step: string;
  stepType: (Customizer | InVMValidation)['type'];
  location: string;
  validExitCodes: number[];
  /** The secrets the step names, looked up again to mask its output (never their values). */
  secretRefs: Record<string, SecretRef>;
  restartCheck: string | null;
  /** Why the platform did not run part of the step: the whole step is then simulated. */
  simulated?: string;
  /** WindowsUpdate: the loop of passes. */
  update?: UpdateLoop;
}

/** A WindowsUpdate step's passes: each runs `script` again until one installs nothing. */
export interface UpdateLoop {
  pass: number;
  script: string;
  timeoutInSeconds: number;
  /** The step's number in its phase (1-based), for the log's header. */
  number: number;
  /** The first pass's Run Command name; pass n is `{base}-pass-{n}`. */
  base: string;
}

/** A customizer's or validation's Run Command (and each later WindowsUpdate pass). */
export interface RunCommandRef extends CustomizerCommand {
  kind: typeof RUN_COMMAND;
  resourceId: string;
  /** How far its output is in the run's log (live-output.ts). */
  liveOutput?: LiveCursor;
}

/** Steps back after which a finished Run Command is deleted. */
const RETIRE_AFTER = 10;

/** How many output lines a failure carries (the contract's limit). */
const FAILURE_LINES = 20;

function stepOf(input: BeginCustomizerInput): Customizer | InVMValidation {
  const list = input.phase === 'customize' ? input.spec.customizers : input.spec.validation.inVMValidations;
  const step = list[input.index];
  if (!step) {
    throw permanentError(`${input.phase} step ${input.index}: expected an index below ${list.length}, found ${input.index}`, { code: 'InvalidStep' });
  }
  return step;
}

function secretNames(step: Customizer | InVMValidation): string[] {
  return 'secrets' in step ? step.secrets : [];
}

/** The Run Command script of `runnable` (the step, or the step with its upload's SAS); a step that cannot run here is refused. */
function scriptOf(input: BeginCustomizerInput, step: Customizer | InVMValidation, runnable: Customizer | InVMValidation): RunCommandScript {
  try {
    return customizerScript(runnable, input.plan.osType, input.limitMs);
  } catch (err) {
    throw permanentError(`${input.phase} step "${step.name}": ${(err as Error).message}`, { code: 'InvalidStep' });
  }
}

export async function beginCustomizer(input: BeginCustomizerInput): Promise<OperationStatus> {
  return operationStatus(async () => {
    const env = activityEnvironment();
    const { plan, spec, phase, index } = input;
    const step = stepOf(input);
    const name = runCommandName(phase, index);
    const rg = plan.staging.resourceGroupName;
    const vm = plan.staging.vmName;
    // Exit codes and time limit, known without the upload SAS (made only for a Run Command about to be sent).
    const script = scriptOf(input, step, step);
    const refs = Object.fromEntries(secretNames(step).map((n) => [n, spec.secrets[n]]).filter(([, r]) => r !== undefined)) as Record<string, SecretRef>;
    const ref: RunCommandRef = {
      kind: RUN_COMMAND,
      resourceId: runCommandId(env.config.subscriptionId, rg, vm, name),
      runId: plan.runId,
      resourceGroup: rg,
      vm,
      name,
      phase,
      step: step.name,
      stepType: step.type,
      location: plan.location,
      validExitCodes: script.validExitCodes,
      secretRefs: refs,
      restartCheck: step.type === 'WindowsRestart' ? (step.restartCheckCommand ?? null) : null,
      // WindowsUpdate runs its pass script again until a pass installs nothing, within the step's limit.
      ...(step.type === 'WindowsUpdate' ? { update: { pass: 1, script: script.script, timeoutInSeconds: script.timeoutInSeconds, number: index + 1, base: name } } : {}),
    };
    // The secrets are read while looking for an earlier attempt (a read is harmless when there is one). The output
    // blobs are not made before the look: their absence tells a later look that the output was already collected.
    const [existing, secretsRead] = await Promise.all([
      getRunCommand(env.clients, rg, vm, name),
      resolveSecrets(env.clients, spec.secrets, secretNames(step)).then((value) => ({ value }), (error: unknown) => ({ error })),
    ]);
    // A Run Command of this name means an earlier attempt started it: never run the script twice.
    if (existing) return { state: 'InProgress', operation: await startLiveOutput(env, ref) };
    // A failure to read them counts only for a run about to start, as when they were asked for after the look.
    if ('error' in secretsRead) throw secretsRead.error;
    const secrets = secretsRead.value;

    // A VM holds at most 25 Run Commands; the steps run one after another, so one ten steps back is long done.
    if (index >= RETIRE_AFTER) await startDeleteRunCommand(env.clients, rg, vm, runCommandName(phase, index - RETIRE_AFTER));
    // An uploaded file's SAS lives as long as the step may run; it is in the script only, never in history.
    const runnable = await withUploadUrls(env.clients, step, input.limitMs + 10 * 60_000);
    const sent = runnable === step ? script : scriptOf(input, step, runnable);
    const blobs = await prepareRunCommandBlobs(env.clients, plan.runId, name, (script.timeoutInSeconds + 3600) * 1000);
    try {
      await startRunCommand(env.clients, {
        resourceGroup: rg,
        vmName: vm,
        name,
        location: plan.location,
        script: sent.script,
        protectedParameters: [...secrets].map(([n, value]) => ({ name: n, value })),
        timeoutInSeconds: script.timeoutInSeconds,
        ...blobs,
      });
    } catch (err) {
      // An error body that echoes the request must not carry a secret value into history.
      if (err instanceof KilnStepError) throw maskedError(err, [...secrets.values()]);
      throw err;
    }
    await (await env.runStore()).appendLog(plan.runId, phase, `== ${phase} ${index + 1}: ${step.name} (${step.type}) started\n`);
    return { state: 'InProgress', operation: await startLiveOutput(env, ref) };
  });
}

const RUNNING = new Set(['Unknown', 'Pending', 'Running']);

/** One look at a customizer's Run Command; at its end the masked output goes to the log and the verdict is returned. */
export async function pollRunCommand(env: ActivityEnvironment, ref: RunCommandRef): Promise<OperationStatus> {
  const { runId, resourceGroup: rg, vm, name, phase, step } = ref;
  const view = await getRunCommand(env.clients, rg, vm, name);
  if (!view) {
    // Whether the script ran is unknown; beginning again could run a non-repeatable script twice.
    return { state: 'Failed', error: { code: 'RunCommandMissing', message: `${phase} step "${step}": Run Command ${ref.resourceId} no longer exists, so whether its script ran is unknown; retry the bake to run the step again`, retryable: false, resourceId: ref.resourceId } };
  }
  if (RUNNING.has(view.executionState) && view.provisioningState !== 'Failed') return { state: 'InProgress', operation: await followRunning(env, ref) };

  const refs = ref.secretRefs;
  const [secretValues, output] = await Promise.all([
    Object.keys(refs).length > 0 ? resolveSecrets(env.clients, refs, Object.keys(refs)).then((values) => [...values.values()]) : [],
    collectOutput(env.clients, runId, name, view),
  ]);
  const stdout = maskSecrets(output.stdout, secretValues);
  const stderr = maskSecrets(output.stderr, secretValues);
  const validExitCodes = ref.validExitCodes;
  // A script the platform did not run has no exit code of its own; only a stand-in's scripted one is judged.
  const exitCode = view.exitCode ?? (view.executionState === 'Succeeded' && !view.simulated ? 0 : undefined);
  const notRun = view.simulated !== undefined && exitCode === undefined && view.executionState === 'Succeeded';
  // A script that ran to its end is judged by its exit code alone (PowerShell's validExitCodes, e.g. 3010).
  const ranToEnd = view.executionState === 'Succeeded' || view.executionState === 'Failed';
  const ok = ranToEnd && exitCode !== undefined && validExitCodes.includes(exitCode);
  const simulatedNote = view.simulated ? ` (simulated: ${view.simulated})` : '';
  const verdict = notRun
    ? `NOT RUN${simulatedNote}`
    : ok
      ? `succeeded${simulatedNote}`
      : `failed: ${view.executionState}${exitCode !== undefined ? `, exit code ${exitCode}` : ''}`;

  if (output.fresh) {
    await followOutput(env, ref, { final: true, secrets: secretValues, trailer: `== ${phase} ${step} ${verdict}\n`, read: output.blobs });
    // The blobs held the unmasked text: gone as soon as the masked copy is safe in the log.
    await deleteRunCommandBlobs(env.clients, runId, name);
  }
  if (ok || notRun) {
    // Once any part of a step was simulated, the whole step was: restarts and update passes carry it on.
    const simulated = view.simulated ?? ref.simulated;
    const carried: RunCommandRef = simulated ? { ...ref, simulated } : ref;
    if (ref.update) return continueUpdates(env, carried, ref.update, stdout);
    if (ref.stepType === 'WindowsRestart') {
      const bootBefore = bootTimeIn(stdout);
      if (!bootBefore) {
        return { state: 'Failed', error: { code: 'RestartNotStarted', message: `${phase} step "${step}": the restart script reported no boot time; Run Command ${ref.resourceId}`, retryable: false, resourceId: ref.resourceId } };
      }
      return { state: 'InProgress', operation: restartWait(carried, bootBefore) };
    }
    return { state: 'Succeeded', ...(simulated ? { simulated } : {}) };
  }
  const timedOut = view.executionState === 'TimedOut';
  const message = maskSecrets(view.executionMessage ?? '', secretValues);
  return {
    state: 'Failed',
    error: {
      code: timedOut ? 'ScriptTimedOut' : 'ScriptFailed',
      message: `${phase} step "${step}" ${verdict}${message ? ` (${message})` : ''}; Run Command ${ref.resourceId}`,
      retryable: false,
      ...(exitCode !== undefined ? { exitCode } : {}),
      lastLines: lastLines(`${stdout}\n${stderr}`, FAILURE_LINES),
      resourceId: ref.resourceId,
    },
  };
}

/** The poller of the Run Commands beginCustomizer and the WindowsUpdate loop start. */
export const customizePollers: Pollers<typeof RUN_COMMAND> = {
  [RUN_COMMAND]: pollRunCommand,
};

function maskedError(err: KilnStepError, secrets: string[]): KilnStepError {
  return new KilnStepError(maskSecrets(err.message, secrets), {
    retryable: err.retryable,
    operationFailed: err.operationFailed,
    ...(err.code ? { code: err.code } : {}),
    ...(err.statusCode ? { statusCode: err.statusCode } : {}),
    ...(err.resourceId ? { resourceId: err.resourceId } : {}),
  });
}

/**
 * The full output from the blobs, or the instance view's 4 KB tail when the agent wrote no blob. `fresh` is false
 * when the blobs were already read and deleted by an earlier look (so the log is not written twice).
 */
async function collectOutput(
  clients: AzureClients,
  runId: string,
  name: string,
  view: RunCommandView,
): Promise<{ stdout: string; stderr: string; fresh: false } | { stdout: string; stderr: string; fresh: true; blobs: { stdout: Buffer; stderr: Buffer } }> {
  const blobs = await readRunCommandBlobs(clients, runId, name);
  if (blobs.output === undefined && blobs.error === undefined) return { stdout: view.outputTail, stderr: view.errorTail, fresh: false };
  const [out, err] = [blobs.output ?? Buffer.alloc(0), blobs.error ?? Buffer.alloc(0)];
  return { stdout: out.toString('utf8') || view.outputTail, stderr: err.toString('utf8') || view.errorTail, fresh: true, blobs: { stdout: out, stderr: err } };
}
