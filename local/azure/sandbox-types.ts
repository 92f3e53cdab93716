/** The contract between the emulator's Run Command handlers and the guest sandbox that runs scripts on VM disks. */
import type { Disk } from './disks.ts';

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
  /** Processes the script left running in the guest (e.g. a detached `waagent -deprovision+user`). */
  detachedStarted: boolean;
  /** Human-readable note for the run's instance view (why not isolated, why killed). */
  message?: string;
}

/** Why the guest stopped on its own (the guest ran `waagent -deprovision…`, `shutdown` or `poweroff`). */
export interface GuestPowerOff {
  disk: Disk;
  reason: 'deprovision' | 'shutdown';
}

export interface SandboxOptions {
  /** Emulator home: the guest platform layer (waagent shim, trusted CA) is kept under it. */
  home: string;
  /** The emulator's CA: guests trust it, so `curl https://127.0.0.1:{armPort}/…` works inside. */
  caPem: string;
  /** `off` behaves as on a machine without root/overlayfs (scripts are not run); default `auto`. */
  isolation?: 'auto' | 'off';
  /** Called when a guest powers itself off; the emulator then marks the VM stopped. */
  onGuestPowerOff?: (event: GuestPowerOff) => void;
}

export interface Sandbox {
  /** Whether scripts really run, and if not, why. */
  readonly isolation: { isolated: boolean; reason?: string };
  /** Runs one script in the disk's guest, booting the guest (mount namespace + overlay) if it is not running. */
  runScript(options: RunScriptOptions): Promise<RunScriptResult>;
  /** Kills every process of the disk's guest and unmounts it (powerOff, deallocate, delete, reimage). */
  stopGuest(disk: Disk): Promise<void>;
  /** True while the disk's guest has a live process namespace. */
  isGuestRunning(disk: Disk): boolean;
  /** Stops every guest (emulator close). */
  close(): Promise<void>;
}
