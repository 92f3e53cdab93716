/**
 * Runs Run Command scripts for real inside emulated VMs: each running VM is a mount + PID namespace whose root is an
 * overlay of the VM's disk over the host root, so writes land only in the disk's upper directory.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { access, mkdir, open, readdir, readFile, readlink, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createDiskFrom, deleteDisk, diskPaths, type Disk } from './disks.ts';
import { canReadOpaqueMarks } from './disks-overlay.ts';
import { CONTROL_FILES, ensurePlatformLayers, GUEST_CONTROL_DIR, GUEST_INIT } from './sandbox-guest.ts';
import type { GuestPowerOff, RunScriptOptions, RunScriptResult, Sandbox, SandboxOptions } from './sandbox-types.ts';

export type { GuestPowerOff, RunScriptOptions, RunScriptResult, Sandbox, SandboxOptions } from './sandbox-types.ts';

export class SandboxError extends Error {
  override name = 'SandboxError';
}

const GUEST_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const POWEROFF_POLL_MS = 100;
/** How often a running script's output files are read for `onOutput`. */
const OUTPUT_TAIL_MS = 200;
const BOOT_TIMEOUT_MS = 10_000;

interface Guest {
  disk: Disk;
  initPid: number;
  /** `/proc/{initPid}/ns/pid` at boot: tells the guest's init from a later process that reuses its PID. */
  namespace: string;
  exited: Promise<void>;
  poller: NodeJS.Timeout;
}

function run(command: string, args: string[]): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(command, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', (error) => resolve({ code: null, stderr: error.message }));
    child.on('close', (code) => resolve({ code, stderr }));
  });
}

/** The preconditions for isolating guests: root, overlayfs, and mount/PID namespaces that actually work. */
async function probeIsolation(): Promise<{ isolated: boolean; reason?: string }> {
  if (process.getuid?.() !== 0) return { isolated: false, reason: 'the emulator is not running as root' };
  const filesystems = await readFile('/proc/filesystems', 'utf8').catch(() => '');
  if (!/\boverlay\b/.test(filesystems)) return { isolated: false, reason: 'the kernel has no overlayfs' };
  if (!canReadOpaqueMarks) return { isolated: false, reason: 'python3 (to read overlayfs directory marks at capture) was not found' };
  const probe = await run('unshare', ['--mount', '--pid', '--fork', '--propagation', 'private', 'true']);
  if (probe.code !== 0) {
    return { isolated: false, reason: `mount/PID namespaces are not available (unshare: ${probe.stderr.trim() || `exit ${probe.code}`})` };
  }
  return { isolated: true };
}

async function exists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
  );
}

/** Host PIDs of every live (not zombie) process in the PID namespace of `initPid`, init excluded. */
async function namespaceMembers(initPid: number): Promise<number[]> {
  const namespace = await readlink(`/proc/${initPid}/ns/pid`).catch(() => undefined);
  if (!namespace) return [];
  const members: number[] = [];
  for (const entry of await readdir('/proc')) {
    const pid = Number(entry);
    if (!Number.isInteger(pid) || pid === initPid) continue;
    if ((await readlink(`/proc/${pid}/ns/pid`).catch(() => undefined)) !== namespace) continue;
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '');
    // The state follows the parenthesised command name, which may itself contain spaces or parentheses.
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    if (state !== '' && state !== 'Z') members.push(pid);
  }
  return members;
}

async function waitFor(condition: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new SandboxError(`guest: timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

function notIsolated(reason: string): RunScriptResult {
  return {
    isolated: false,
    exitCode: null,
    stdout: '',
    stderr: '',
    timedOut: false,
    agentRemoved: false,
    detachedStarted: false,
    message: `Script not run: this machine cannot isolate a VM (${reason}); the emulator never runs scripts on the host.`,
  };
}

function validateEnv(env: Record<string, string>): void {
  for (const [name, value] of Object.entries(env)) {
    if (!ENV_NAME.test(name)) {
      throw new SandboxError(`run command parameter name: expected letters, digits and _ (not first a digit), found ${JSON.stringify(name)}`);
    }
    // The value is deliberately not echoed: protected parameters are secrets.
    if (typeof value !== 'string' || value.includes('\0')) {
      throw new SandboxError(`run command parameter ${name}: expected a string without NUL characters`);
    }
  }
}

export async function createSandbox(options: SandboxOptions): Promise<Sandbox> {
  let isolation: Sandbox['isolation'] =
    options.isolation === 'off' ? { isolated: false, reason: 'isolation is turned off for this emulator' } : await probeIsolation();
  const platform = isolation.isolated ? await ensurePlatformLayers(options.home, options.caPem) : undefined;
  const guests = new Map<string, Guest>();
  const booting = new Map<string, Promise<Guest>>();
  let runCounter = 0;

  /** Starts the guest's init in new mount and PID namespaces; a trial init exits once everything is mounted. */
  async function spawnInit(disk: Disk, trial: boolean): Promise<{ unshare: ChildProcess; exited: Promise<number | null>; stderr: () => string }> {
    const paths = diskPaths(disk);
    if (!platform) throw new SandboxError('guest: cannot boot without isolation');
    const layers = [platform.agent, ...disk.layers, platform.trust];
    const scratch = join(disk.dir, 'host');
    for (const path of [...layers, paths.upper, paths.work]) {
      // overlayfs mount options are split on ',' and lower layers on ':'.
      if (/[:,\\]/.test(path)) throw new SandboxError(`guest disk path ${JSON.stringify(path)}: must not contain ':', ',' or '\\'`);
    }
    await rm(paths.control, { recursive: true, force: true });
    await mkdir(paths.control, { recursive: true });
    for (const dir of [paths.upper, paths.work, paths.merged, scratch]) await mkdir(dir, { recursive: true });

    const unshare = spawn('unshare', ['--mount', '--pid', '--fork', '--propagation', 'private', '--kill-child', '--', 'bash', '-c', GUEST_INIT], {
      stdio: ['ignore', 'ignore', 'pipe'],
      env: {
        PATH: GUEST_PATH,
        KILN_LOWER: layers.join(':'),
        KILN_UPPER: paths.upper,
        KILN_WORK: paths.work,
        KILN_MERGED: paths.merged,
        KILN_CONTROL: paths.control,
        KILN_SCRATCH: scratch,
        KILN_EMULATOR_PID: String(process.pid),
        KILN_TRIAL: trial ? '1' : '0',
      },
    });
    let stderr = '';
    unshare.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => {
      unshare.on('error', (error) => {
        stderr += error.message;
        resolve(null);
      });
      unshare.on('close', (code) => resolve(code));
    });
    return { unshare, exited, stderr: () => stderr.trim() };
  }

  async function boot(disk: Disk): Promise<Guest> {
    const { unshare, exited, stderr } = await spawnInit(disk, false);
    let gone = false;
    void exited.then(() => (gone = true));
    const bootedFile = join(diskPaths(disk).control, CONTROL_FILES.booted);
    await waitFor(async () => gone || (await exists(bootedFile)), BOOT_TIMEOUT_MS, `the guest of ${disk.dir} to boot`);
    if (gone) throw new SandboxError(`guest of ${disk.dir} failed to boot: ${stderr()}`);
    const children = await readFile(`/proc/${unshare.pid}/task/${unshare.pid}/children`, 'utf8');
    const initPid = Number(children.trim().split(/\s+/)[0]);
    if (!Number.isInteger(initPid) || initPid <= 0) throw new SandboxError(`guest of ${disk.dir}: cannot find its init process`);

    const namespace = await readlink(`/proc/${initPid}/ns/pid`);
    const guest: Guest = { disk, initPid, namespace, exited: exited.then(() => undefined), poller: setInterval(() => void checkPowerOff(guest), POWEROFF_POLL_MS) };
    guest.poller.unref();
    void exited.then(() => {
      clearInterval(guest.poller);
      if (guests.get(disk.dir) === guest) guests.delete(disk.dir);
    });
    guests.set(disk.dir, guest);
    return guest;
  }

  /** Boots a throwaway guest once: some machines pass every precondition yet cannot stack the overlays. */
  async function trialBoot(): Promise<Sandbox['isolation']> {
    const disk = await createDiskFrom(null, join(options.home, 'guest-trial', `${process.pid}-${Date.now()}`));
    try {
      const init = await spawnInit(disk, true);
      const code = await init.exited;
      return code === 0 ? { isolated: true } : { isolated: false, reason: `a trial guest could not mount its overlay (${init.stderr() || `exit ${code}`})` };
    } finally {
      await deleteDisk(disk);
    }
  }

  async function checkPowerOff(guest: Guest): Promise<void> {
    const reasonText = await readFile(join(diskPaths(guest.disk).control, CONTROL_FILES.poweroff), 'utf8').catch(() => undefined);
    if (reasonText === undefined || guests.get(guest.disk.dir) !== guest) return;
    const reason: GuestPowerOff['reason'] = reasonText.trim() === 'deprovision' ? 'deprovision' : 'shutdown';
    await stopGuest(guest.disk);
    options.onGuestPowerOff?.({ disk: guest.disk, reason });
  }

  async function guestFor(disk: Disk): Promise<Guest> {
    const running = guests.get(disk.dir);
    if (running) return running;
    let pending = booting.get(disk.dir);
    if (!pending) {
      pending = boot(disk).finally(() => booting.delete(disk.dir));
      booting.set(disk.dir, pending);
    }
    return pending;
  }

  async function stopGuest(disk: Disk): Promise<void> {
    const guest = guests.get(disk.dir) ?? (await booting.get(disk.dir)?.catch(() => undefined));
    if (!guest) return;
    guests.delete(disk.dir);
    clearInterval(guest.poller);
    // Killing PID 1 of the namespace kills every process in it; unshare exits once they are all gone.
    if ((await readlink(`/proc/${guest.initPid}/ns/pid`).catch(() => undefined)) === guest.namespace) {
      try {
        process.kill(guest.initPid, 'SIGKILL');
      } catch {
        // Exited in the meantime.
      }
    }
    await guest.exited;
  }

  /** Follows a run's stdout and stderr files, handing each new piece to `onOutput`; `stop` reads the rest. */
  function tailOutput(runDir: string, onOutput: NonNullable<RunScriptOptions['onOutput']>): { stop(): Promise<void> } {
    const offsets = { stdout: 0, stderr: 0 };
    const readNew = async (): Promise<void> => {
      for (const stream of ['stdout', 'stderr'] as const) {
        const file = await open(join(runDir, stream), 'r').catch(() => undefined);
        if (!file) continue;
        try {
          const { size } = await file.stat();
          if (size <= offsets[stream]) continue;
          const chunk = Buffer.alloc(size - offsets[stream]);
          const { bytesRead } = await file.read(chunk, 0, chunk.length, offsets[stream]);
          offsets[stream] += bytesRead;
          if (bytesRead > 0) onOutput(stream, chunk.subarray(0, bytesRead));
        } finally {
          await file.close();
        }
      }
    };
    let reading = Promise.resolve();
    // A failed look is only late: the offsets did not move, so the next look (or `stop`) reads the same bytes.
    const look = (): Promise<void> => readNew().catch(() => undefined);
    const timer = setInterval(() => {
      reading = reading.then(look);
    }, OUTPUT_TAIL_MS);
    return {
      async stop() {
        clearInterval(timer);
        await reading;
        await readNew();
      },
    };
  }

  async function runScript(job: RunScriptOptions): Promise<RunScriptResult> {
    if (!isolation.isolated) return notIsolated(isolation.reason ?? 'unknown reason');
    const env = job.env ?? {};
    validateEnv(env);
    if (!Number.isFinite(job.timeoutSec) || job.timeoutSec <= 0) {
      throw new SandboxError(`timeoutSec: expected a positive number of seconds, found ${JSON.stringify(job.timeoutSec)}`);
    }
    const guest = await guestFor(job.disk);
    const control = diskPaths(job.disk).control;
    const runId = `${Date.now()}-${++runCounter}`;
    const runDir = join(control, 'runs', runId);
    await mkdir(runDir, { recursive: true });
    await writeFile(join(runDir, 'script.sh'), job.script, { mode: 0o700 });
    const stdoutFile = await open(join(runDir, 'stdout'), 'w');
    const stderrFile = await open(join(runDir, 'stderr'), 'w');

    // Processes already running (left by earlier runs) are not this run's detached ones.
    const before = new Set(await namespaceMembers(guest.initPid));

    // Output goes to files, not pipes: a detached process that keeps stdout open must not hold the run open.
    const child = spawn(
      'nsenter',
      ['--target', String(guest.initPid), '--mount', '--pid', '--', 'chroot', diskPaths(job.disk).merged, '/bin/bash', `${GUEST_CONTROL_DIR}/runs/${runId}/script.sh`],
      {
        cwd: '/',
        detached: true,
        stdio: ['ignore', stdoutFile.fd, stderrFile.fd],
        env: { PATH: GUEST_PATH, HOME: '/root', USER: 'root', LOGNAME: 'root', SHELL: '/bin/bash', LANG: 'C.UTF-8', ...env },
      },
    );
    await Promise.all([stdoutFile.close(), stderrFile.close()]);

    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        // Already exited.
      }
    }, job.timeoutSec * 1000);
    const tail = job.onOutput ? tailOutput(runDir, job.onOutput) : undefined;
    const exitCode = await new Promise<number | null>((resolve) => {
      child.on('error', () => resolve(null));
      child.on('close', (code) => resolve(code));
    });
    clearTimeout(timer);
    await tail?.stop();

    const agentRemoved = await exists(join(control, CONTROL_FILES.agentRemoved));
    const poweredOff = await exists(join(control, CONTROL_FILES.poweroff));
    const stillRunning = guests.get(job.disk.dir) === guest;
    const detachedStarted = stillRunning && !timedOut && (await namespaceMembers(guest.initPid)).some((pid) => !before.has(pid));
    const [stdout, stderr] = await Promise.all([
      readFile(join(runDir, 'stdout'), 'utf8').catch(() => ''),
      readFile(join(runDir, 'stderr'), 'utf8').catch(() => ''),
    ]);
    // The script and its output stay only in the result: the run directory may hold what protected parameters revealed.
    await rm(runDir, { recursive: true, force: true });
    let message: string | undefined;
    if (timedOut) message = `The script was killed after ${job.timeoutSec} seconds (timeoutInSeconds).`;
    else if (exitCode === null && poweredOff) message = 'The VM powered off while the script was running.';
    else if (exitCode === null) message = 'The script was killed.';
    return {
      isolated: true,
      exitCode: timedOut ? null : exitCode,
      stdout,
      stderr,
      timedOut,
      agentRemoved,
      detachedStarted,
      ...(message ? { message } : {}),
    };
  }

  if (isolation.isolated) isolation = await trialBoot();

  return {
    isolation,
    runScript,
    stopGuest,
    isGuestRunning: (disk) => guests.has(disk.dir),
    async close() {
      await Promise.all([...guests.values()].map((guest) => stopGuest(guest.disk)));
    },
  };
}
