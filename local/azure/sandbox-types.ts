/** The contract between the emulator's Run Command handlers and the guest sandbox that runs scripts on VM disks. */
import type { Disk } from './disks.ts';
import type { GuestFiles } from './sandbox-network.ts';

export interface RunScriptOptions {
  disk: Disk;
  /** Shell script text, run by /bin/bash as root inside the guest. */
  script: string;
  /** Parameters and protected parameters, as environment variables (values never logged). */
  env?: Record<string, string>;
  /** Kills the script's whole process tree after this many seconds (Run Command `timeoutInSeconds`). */
  timeoutSec: number;
  /** Called with the script's output as it is written (as on Azure, where the agent appends to the output blobs while it runs). */
  onOutput?: (stream: 'stdout' | 'stderr', chunk: Buffer) => void;
  /** The run's id, chosen by the caller so it can be kept before the run starts; default a new one. */
  runId?: string;
}

export interface RunScriptResult {
  /** False when the machine cannot isolate a guest: the script was NOT run and `message` says why. */
  isolated: boolean;
  /** Null when the script was killed (timeout, guest power-off) or not run. */
  exitCode: number | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
  /**
   * The script ran the deprovision command in the foreground: on Azure the agent that reports the result is gone,
   * so the Run Command never reaches a terminal state. The emulator keeps it running (until its timeout).
   */
  agentRemoved: boolean;
  /** Human-readable note for the run's instance view (why not isolated, why killed). */
  message?: string;
}

/** Why the guest stopped on its own (the guest ran `waagent -deprovision…`, `shutdown` or `poweroff`). */
export interface GuestPowerOff {
  disk: Disk;
  reason: 'deprovision' | 'shutdown';
}

export interface SandboxOptions {
  /** Emulator home: the guest platform layers, the guest registry and the network sockets are kept under it. */
  home: string;
  /** The emulator's CA: guests trust it, so `curl https://127.0.0.1:{armPort}/…` works inside. */
  caPem: string;
  /** Host paths no guest may see even where they lie inside a system directory (KILN_HOME, the checkout). */
  privatePaths?: string[];
  /** The emulator's files endpoint, which guests reach at the same URL as the host does. */
  files?: GuestFiles;
  /**
   * The blob endpoint's port on the host's loopback (locally, Azurite): guests reach it at the same address, as an
   * Azure VM reaches storage (SAS URLs of uploads, Run Command output). Nothing else on the host's loopback.
   */
  storagePort?: () => number | undefined;
  /** `off` behaves as on a machine without user namespaces/overlayfs (scripts are not run); default `auto`. */
  isolation?: 'auto' | 'off';
  /** Called when a guest powers itself off; the emulator then marks the VM stopped. */
  onGuestPowerOff?: (event: GuestPowerOff) => void;
}

export interface Sandbox {
  /** Whether scripts really run, and if not, why. */
  readonly isolation: { isolated: boolean; reason?: string };
  /** Runs one script in the disk's guest, booting the guest if it is not running: start, wait and release in one. */
  runScript(options: RunScriptOptions): Promise<RunScriptResult>;
  /** Starts a script in the disk's guest (booting it if needed) and returns the run's id; the guest runs it alone. */
  startScript(options: RunScriptOptions): Promise<string>;
  /** Waits for a run to end (also one started by an earlier emulator process) and returns its result. */
  waitScript(disk: Disk, runId: string, onOutput?: RunScriptOptions['onOutput']): Promise<RunScriptResult>;
  /** Whether the guest took a run on: false for one an emulator killed before it reached the guest. */
  scriptStarted(disk: Disk, runId: string): Promise<boolean>;
  /** Deletes a run's script and output once its result is kept. */
  releaseScript(disk: Disk, runId: string): Promise<void>;
  /** Kills every process of the disk's guest and unmounts it (powerOff, deallocate, delete, reimage). */
  stopGuest(disk: Disk): Promise<void>;
  /** True while the disk's guest has a live process namespace. */
  isGuestRunning(disk: Disk): boolean;
  /** Stops watching guests; stops them too unless `stopGuests` is false (they then run on, as VMs do). */
  close(options?: { stopGuests?: boolean }): Promise<void>;
}
