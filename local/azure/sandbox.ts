/**
 * Runs Run Command scripts for real inside emulated VMs. Each running VM is a guest: its own user, mount, PID, IPC,
 * UTS and network namespaces, a root built from its disk over the host's system directories (nothing private of the
 * host's), and a network that reaches only public addresses and the files endpoint, through the emulator's proxy.
 * Guests are not the emulator's children: they outlive it, and a restarted emulator finds them (and their runs'
 * results) again from what they keep on disk.
 *
 * This module decides whether this machine can isolate a guest and puts the parts together: booting
 * (sandbox-boot.ts), the running guests (sandbox-guests.ts), runs of scripts (sandbox-runs.ts).
 */
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { canReadOpaqueMarks } from './disks-overlay.ts';
import { trialBoot, type GuestHost } from './sandbox-boot.ts';
import { ensurePlatformLayers } from './sandbox-guest.ts';
import { GuestRegistry } from './sandbox-guests.ts';
import { startGuestNetwork } from './sandbox-network.ts';
import { SandboxError } from './sandbox-process.ts';
import { notIsolated, releaseRun, runStarted, startRun, waitRun } from './sandbox-runs.ts';
import type { Sandbox, SandboxOptions } from './sandbox-types.ts';

export type { GuestPowerOff, RunScriptOptions, RunScriptResult, Sandbox, SandboxOptions } from './sandbox-types.ts';
export { SandboxError } from './sandbox-process.ts';

/** The preconditions a trial boot cannot explain by itself. */
async function missingPrerequisite(): Promise<string | undefined> {
  const filesystems = await readFile('/proc/filesystems', 'utf8').catch(() => '');
  if (!/\boverlay\b/.test(filesystems)) return 'the kernel has no overlayfs';
  if (!canReadOpaqueMarks) return 'python3 (to read overlayfs directory marks at capture) was not found';
  return undefined;
}

/**
 * Whether guests can be isolated here: the preconditions, then the guest platform and network prepared (into
 * `host`) and one trial boot. Anything short of that is the reason scripts are not run.
 */
async function prepareIsolation(host: GuestHost, options: SandboxOptions): Promise<Sandbox['isolation']> {
  if (options.isolation === 'off') return { isolated: false, reason: 'isolation is turned off for this emulator' };
  const reason = await missingPrerequisite();
  if (reason) return { isolated: false, reason };
  try {
    host.platform = await ensurePlatformLayers(host.home, options.caPem, [host.home, ...(options.privatePaths ?? [])]);
    host.network = await startGuestNetwork(join(host.home, 'guest-net'), options.files, () => options.storagePort?.());
    return await trialBoot(host);
  } catch (error) {
    return { isolated: false, reason: `the guest platform could not be prepared (${(error as Error).message})` };
  }
}

export async function createSandbox(options: SandboxOptions): Promise<Sandbox> {
  const host: GuestHost = { home: resolve(options.home), files: options.files, storagePort: options.storagePort };
  const isolation = await prepareIsolation(host, options);
  const guests = new GuestRegistry(host, options.onGuestPowerOff);
  if (isolation.isolated) await guests.adopt();
  let runCounter = 0;
  const newRunId = () => `${Date.now()}-${process.pid}-${++runCounter}`;
  let closed = false;

  const waitScript: Sandbox['waitScript'] = async (disk, runId, onOutput) => {
    if (!isolation.isolated) return notIsolated(isolation.reason ?? 'unknown reason');
    return waitRun(guests, disk, runId, onOutput, () => closed);
  };

  return {
    isolation,
    async startScript(job) {
      if (!isolation.isolated) throw new SandboxError(`guest: scripts are not run here (${isolation.reason})`);
      return startRun(guests, job, newRunId);
    },
    waitScript,
    scriptStarted: runStarted,
    releaseScript: releaseRun,
    async runScript(job) {
      if (!isolation.isolated) return notIsolated(isolation.reason ?? 'unknown reason');
      const runId = await startRun(guests, job, newRunId);
      try {
        return await waitScript(job.disk, runId, job.onOutput);
      } finally {
        await releaseRun(job.disk, runId);
      }
    },
    stopGuest: (disk) => guests.stop(disk),
    isGuestRunning: (disk) => guests.isRunning(disk),
    async close(closeOptions = {}) {
      closed = true;
      await guests.close(closeOptions.stopGuests !== false);
      await host.network?.close();
    },
  };
}
