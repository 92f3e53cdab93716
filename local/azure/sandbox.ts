/**
 * Runs Run Command scripts for real inside emulated VMs. Each running VM is a guest: its own user, mount, PID, IPC,
 * UTS and network namespaces, a root built from its disk over the host's system directories (nothing private of the
 * host's), and a network that reaches only public addresses and the files endpoint, through the emulator's proxy.
 * Guests are not the emulator's children: they outlive it, and a restarted emulator finds them (and their runs'
 * results) again from what they keep on disk.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { access, mkdir, open, readdir, readFile, readlink, rm, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createDiskFrom, deleteDisk, diskPaths, type Disk } from './disks.ts';
import { canReadOpaqueMarks } from './disks-overlay.ts';
import {
  CONTROL_FILES, ensurePlatformLayers, GUEST_CONTROL_DIR, GUEST_INIT, GUEST_NET_DIR, GUEST_PROXY_PORT, GUEST_RUN_COMMAND,
  type PlatformLayers,
} from './sandbox-guest.ts';
import { FILES_SOCKET, PROXY_SOCKET, STORAGE_SOCKET, startGuestNetwork, type GuestNetwork } from './sandbox-network.ts';
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
const RUN_POLL_MS = 25;
const BOOT_TIMEOUT_MS = 15_000;
const RELAY = join(dirname(fileURLToPath(import.meta.url)), 'sandbox-relay.ts');
const isRoot = process.getuid?.() === 0;

/** What a restarted emulator needs to find a running guest again: kept in `{home}/guests/`. */
interface GuestRecord {
  disk: Disk;
  /** Host PID of the guest's init (PID 1 inside). */
  initPid: number;
  /** `/proc/{initPid}/ns/pid` at boot: tells the guest's init from a later process that reuses its PID. */
  namespace: string;
}

interface Guest extends GuestRecord {
  poller: NodeJS.Timeout;
}

function run(command: string, args: string[], env?: NodeJS.ProcessEnv): Promise<{ code: number | null; stderr: string }> {
  return new Promise((done) => {
    const child = spawn(command, args, { stdio: ['ignore', 'ignore', 'pipe'], env });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', (error) => done({ code: null, stderr: error.message }));
    child.on('close', (code) => done({ code, stderr }));
  });
}

async function exists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
  );
}

const sleep = (ms: number) => new Promise((done) => setTimeout(done, ms));

async function waitFor(condition: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new SandboxError(`guest: timed out waiting for ${what}`);
    await sleep(20);
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

/** The environment every script starts with: root's, plus the proxy that is the guest's way out. */
const SCRIPT_ENV: Record<string, string> = {
  PATH: GUEST_PATH, HOME: '/root', USER: 'root', LOGNAME: 'root', SHELL: '/bin/bash', LANG: 'C.UTF-8',
  ...Object.fromEntries(['http_proxy', 'https_proxy', 'HTTP_PROXY', 'HTTPS_PROXY'].map((name) => [name, `http://127.0.0.1:${GUEST_PROXY_PORT}`])),
  no_proxy: '127.0.0.1,localhost', NO_PROXY: '127.0.0.1,localhost',
};

/** The preconditions a trial boot cannot explain by itself. */
async function missingPrerequisite(): Promise<string | undefined> {
  const filesystems = await readFile('/proc/filesystems', 'utf8').catch(() => '');
  if (!/\boverlay\b/.test(filesystems)) return 'the kernel has no overlayfs';
  if (!canReadOpaqueMarks) return 'python3 (to read overlayfs directory marks at capture) was not found';
  return undefined;
}

export async function createSandbox(options: SandboxOptions): Promise<Sandbox> {
  const home = resolve(options.home);
  const registry = join(home, 'guests');
  let isolation: Sandbox['isolation'] = options.isolation === 'off'
    ? { isolated: false, reason: 'isolation is turned off for this emulator' }
    : await missingPrerequisite().then((reason) => (reason ? { isolated: false, reason } : { isolated: true }));
  let platform: PlatformLayers | undefined;
  let network: GuestNetwork | undefined;
  const guests = new Map<string, Guest>();
  const booting = new Map<string, Promise<Guest>>();
  let runCounter = 0;
  let closed = false;

  const recordPath = (disk: Disk) => join(registry, `${createHash('sha256').update(disk.dir).digest('hex').slice(0, 32)}.json`);
  const isAlive = async (record: GuestRecord) => (await readlink(`/proc/${record.initPid}/ns/pid`).catch(() => undefined)) === record.namespace;

  /** The guest's overlay mounts: the root over the skeleton, and each system directory over its host directory. */
  function mountPlan(disk: Disk, layers: PlatformLayers): { rootLower: string; systemMounts: string[]; hostView: string } {
    const paths = diskPaths(disk);
    // overlayfs refuses a layer inside another layer of the same mount: the host directory that holds the disks
    // then enters through an overlay of its own.
    const hostView = layers.systemDirs.some((dir) => home.startsWith(`/${dir}/`)) ? join(disk.dir, 'host') : '';
    const systemMounts = layers.systemDirs.flatMap((dir) => {
      const lowers = [layers.agent, ...disk.layers, layers.trust, layers.mask].map((layer) => join(layer, dir));
      return [dir, [...lowers, hostView ? join(hostView, dir) : `/${dir}`].join(':')];
    });
    const rootLower = [layers.agent, ...disk.layers, layers.trust, layers.skeleton].join(':');
    for (const path of [home, disk.dir, ...disk.layers]) {
      // overlayfs mount options are split on ',' and lower layers on ':'.
      if (/[:,\\\n]/.test(path)) throw new SandboxError(`guest disk path ${JSON.stringify(path)}: must not contain ':', ',', '\\' or a line break`);
    }
    return { rootLower, systemMounts, hostView };
  }

  /** Lower layers that do not exist (an image without /opt) are left out: overlayfs refuses missing ones. */
  async function existingLowers(systemMounts: string[]): Promise<string[]> {
    const result: string[] = [];
    for (let index = 0; index < systemMounts.length; index += 2) {
      const parts = systemMounts[index + 1]!.split(':');
      const kept: string[] = [];
      for (const [position, part] of parts.entries()) if (position === parts.length - 1 || (await exists(part))) kept.push(part);
      result.push(systemMounts[index]!, kept.join(':'));
    }
    return result;
  }

  /**
   * Starts the guest's init in its namespaces, detached from the emulator (a session of its own, output to a file),
   * and resolves with the PID of `unshare` and its exit (for a trial boot).
   */
  async function spawnInit(disk: Disk, trial: boolean): Promise<{ unsharePid: number; exited: Promise<number | null>; bootLog: string }> {
    if (!platform || !network) throw new SandboxError('guest: cannot boot without isolation');
    const paths = diskPaths(disk);
    const plan = mountPlan(disk, platform);
    await rm(paths.control, { recursive: true, force: true });
    await mkdir(paths.control, { recursive: true });
    await writeFile(join(paths.control, CONTROL_FILES.alive), '');
    for (const dir of ['', ...platform.systemDirs]) {
      await mkdir(join(paths.upper, dir), { recursive: true });
      await mkdir(join(paths.work, dir || 'root'), { recursive: true });
    }
    await mkdir(paths.merged, { recursive: true });
    if (plan.hostView) await mkdir(plan.hostView, { recursive: true });
    const bootLog = join(paths.control, 'boot.log');
    const log = await open(bootLog, 'w');
    const files = options.files?.port();
    const storage = options.storagePort?.();
    const routes = [
      `${GUEST_PROXY_PORT}=${GUEST_NET_DIR}/${PROXY_SOCKET}`,
      ...(files ? [`${files}=${GUEST_NET_DIR}/${FILES_SOCKET}`] : []),
      ...(storage ? [`${storage}=${GUEST_NET_DIR}/${STORAGE_SOCKET}`] : []),
    ];
    const namespaces = ['--user', ...(isRoot ? [] : ['--map-root-user']), '--mount', '--pid', '--ipc', '--uts', '--net', '--fork', '--propagation', 'private'];
    const child = spawn('unshare', [...namespaces, '--', 'bash', '-c', GUEST_INIT, 'kiln-guest-init', ...(await existingLowers(plan.systemMounts))], {
      detached: true,
      stdio: ['ignore', 'ignore', log.fd],
      env: {
        PATH: GUEST_PATH,
        KILN_ROOT_LOWER: plan.rootLower,
        KILN_UPPER: paths.upper,
        KILN_WORK: paths.work,
        KILN_MERGED: paths.merged,
        KILN_CONTROL: paths.control,
        KILN_HOST_VIEW: plan.hostView,
        KILN_NET: network.dir,
        KILN_NODE: process.execPath,
        KILN_RELAY: RELAY,
        KILN_RELAY_ROUTES: routes.join(' '),
        KILN_TRIAL: trial ? '1' : '0',
      },
    });
    await log.close();
    const exited = new Promise<number | null>((done) => {
      child.on('error', () => done(null));
      child.on('exit', (code) => done(code));
    });
    child.unref();
    if (!child.pid) throw new SandboxError(`guest of ${disk.dir}: unshare did not start (${await readFile(bootLog, 'utf8').catch(() => '')})`);
    if (isRoot) {
      // An identity map: image files keep their owners, yet the guest's root has capabilities only in its namespaces.
      const ours = await readlink('/proc/self/ns/user');
      const pid = child.pid;
      await waitFor(async () => (await readlink(`/proc/${pid}/ns/user`).catch(() => ours)) !== ours, BOOT_TIMEOUT_MS, `the guest of ${disk.dir} to enter its namespaces`);
      await writeFile(`/proc/${pid}/uid_map`, '0 0 4294967295\n');
      await writeFile(`/proc/${pid}/gid_map`, '0 0 4294967295\n');
    }
    return { unsharePid: child.pid, exited, bootLog };
  }

  function watch(record: GuestRecord): Guest {
    const guest: Guest = { ...record, poller: setInterval(() => void checkPowerOff(guest), POWEROFF_POLL_MS) };
    guest.poller.unref();
    guests.set(record.disk.dir, guest);
    return guest;
  }

  async function boot(disk: Disk): Promise<Guest> {
    const { unsharePid, exited, bootLog } = await spawnInit(disk, false);
    let gone = false;
    void exited.then(() => (gone = true));
    const bootedFile = join(diskPaths(disk).control, CONTROL_FILES.booted);
    await waitFor(async () => gone || (await exists(bootedFile)), BOOT_TIMEOUT_MS, `the guest of ${disk.dir} to boot`);
    if (gone) throw new SandboxError(`guest of ${disk.dir} failed to boot: ${(await readFile(bootLog, 'utf8').catch(() => '')).trim()}`);
    const children = await readFile(`/proc/${unsharePid}/task/${unsharePid}/children`, 'utf8');
    const initPid = Number(children.trim().split(/\s+/)[0]);
    if (!Number.isInteger(initPid) || initPid <= 0) throw new SandboxError(`guest of ${disk.dir}: cannot find its init process`);
    const record: GuestRecord = { disk, initPid, namespace: await readlink(`/proc/${initPid}/ns/pid`) };
    await mkdir(registry, { recursive: true });
    await writeFile(recordPath(disk), JSON.stringify(record));
    return watch(record);
  }

  /** Boots a throwaway guest once: some machines pass every precondition yet cannot build a guest. */
  async function trialBoot(): Promise<Sandbox['isolation']> {
    const disk = await createDiskFrom(null, join(home, 'guest-trial', `${process.pid}-${Date.now()}`));
    try {
      const init = await spawnInit(disk, true);
      const code = await init.exited;
      const log = (await readFile(init.bootLog, 'utf8').catch(() => '')).trim();
      return code === 0 ? { isolated: true } : { isolated: false, reason: `a trial guest could not be built (${log || `exit ${code}`})` };
    } catch (error) {
      return { isolated: false, reason: `a trial guest could not be built (${(error as Error).message})` };
    } finally {
      await deleteDisk(disk);
    }
  }

  async function checkPowerOff(guest: GuestRecord): Promise<void> {
    const reasonText = await readFile(join(diskPaths(guest.disk).control, CONTROL_FILES.poweroff), 'utf8').catch(() => undefined);
    if (reasonText === undefined || guests.get(guest.disk.dir) !== guest) return;
    const reason: GuestPowerOff['reason'] = reasonText.trim() === 'deprovision' ? 'deprovision' : 'shutdown';
    await stopGuest(guest.disk);
    options.onGuestPowerOff?.({ disk: guest.disk, reason });
  }

  /** Finds the guests a previous emulator started: running ones are watched again, powered-off ones reported. */
  async function adoptGuests(): Promise<void> {
    for (const name of await readdir(registry).catch(() => [] as string[])) {
      const path = join(registry, name);
      const record = JSON.parse(await readFile(path, 'utf8')) as GuestRecord;
      if (await isAlive(record)) {
        watch(record);
        continue;
      }
      await rm(path, { force: true });
      const reasonText = await readFile(join(diskPaths(record.disk).control, CONTROL_FILES.poweroff), 'utf8').catch(() => undefined);
      if (reasonText !== undefined) options.onGuestPowerOff?.({ disk: record.disk, reason: reasonText.trim() === 'deprovision' ? 'deprovision' : 'shutdown' });
    }
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
    // Killing PID 1 of the namespace kills every process in it.
    if (await isAlive(guest)) {
      try {
        process.kill(guest.initPid, 'SIGKILL');
      } catch {
        // Exited in the meantime.
      }
    }
    await waitFor(async () => !(await isAlive(guest)), BOOT_TIMEOUT_MS, `the guest of ${disk.dir} to stop`);
    await rm(recordPath(disk), { force: true });
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

  async function startScript(job: RunScriptOptions): Promise<string> {
    const env = job.env ?? {};
    validateEnv(env);
    if (!Number.isFinite(job.timeoutSec) || job.timeoutSec <= 0) {
      throw new SandboxError(`timeoutSec: expected a positive number of seconds, found ${JSON.stringify(job.timeoutSec)}`);
    }
    const guest = await guestFor(job.disk);
    const runId = job.runId ?? `${Date.now()}-${process.pid}-${++runCounter}`;
    if (!/^[A-Za-z0-9-]+$/.test(runId)) throw new SandboxError(`runId: expected letters, digits and '-', found ${JSON.stringify(runId)}`);
    const runDir = join(diskPaths(job.disk).control, 'runs', runId);
    await mkdir(runDir, { recursive: true });
    await writeFile(join(runDir, 'script.sh'), job.script, { mode: 0o700 });
    await writeFile(join(runDir, 'timeout'), `${Math.ceil(job.timeoutSec)}\n`);
    // The handler is started detached inside the guest (`setsid -f`): it belongs to the guest, not to the emulator.
    const started = await run(
      'nsenter',
      ['--target', String(guest.initPid), '--user', '--mount', '--pid', '--ipc', '--uts', '--net', '--root', '--wd', ...(isRoot ? [] : ['--preserve-credentials']), '--', '/usr/bin/setsid', '-f', GUEST_RUN_COMMAND, `${GUEST_CONTROL_DIR}/runs/${runId}`],
      { ...SCRIPT_ENV, ...env },
    );
    if (started.code !== 0) throw new SandboxError(`guest of ${job.disk.dir}: the run could not start (${started.stderr.trim() || `exit ${started.code}`})`);
    return runId;
  }

  async function waitScript(disk: Disk, runId: string, onOutput?: RunScriptOptions['onOutput']): Promise<RunScriptResult> {
    if (!isolation.isolated) return notIsolated(isolation.reason ?? 'unknown reason');
    const control = diskPaths(disk).control;
    const runDir = join(control, 'runs', runId);
    const tail = onOutput ? tailOutput(runDir, onOutput) : undefined;
    let ended: string | undefined;
    for (;;) {
      // A closed emulator is gone as a killed one is: nothing of it reports any more (the next one will).
      if (closed) {
        await tail?.stop();
        return new Promise<never>(() => undefined);
      }
      ended = await readFile(join(runDir, 'exit'), 'utf8').catch(() => undefined);
      const guest = guests.get(disk.dir) ?? (await booting.get(disk.dir)?.catch(() => undefined));
      if (ended !== undefined || !guest || !(await isAlive(guest))) break;
      await sleep(RUN_POLL_MS);
    }
    await tail?.stop();
    const [code, timedOutFlag, leftFlag] = (ended ?? '').trim().split(' ');
    const timedOut = timedOutFlag === '1';
    const exitCode = ended === undefined || timedOut ? null : Number(code);
    const agentRemoved = await exists(join(control, CONTROL_FILES.agentRemoved));
    const poweredOff = await exists(join(control, CONTROL_FILES.poweroff));
    const [stdout, stderr, timeout] = await Promise.all(
      ['stdout', 'stderr', 'timeout'].map((name) => readFile(join(runDir, name), 'utf8').catch(() => '')),
    );
    let message: string | undefined;
    if (timedOut) message = `The script was killed after ${timeout!.trim()} seconds (timeoutInSeconds).`;
    else if (ended === undefined && poweredOff) message = 'The VM powered off while the script was running.';
    else if (ended === undefined) message = 'The VM stopped while the script was running.';
    return {
      isolated: true,
      exitCode,
      stdout: stdout!,
      stderr: stderr!,
      timedOut,
      agentRemoved,
      detachedStarted: leftFlag === '1' && !timedOut && guests.has(disk.dir),
      ...(message ? { message } : {}),
    };
  }

  /** Whether the guest took the run on (its handler wrote the script's PID); a handler starting now gets a moment. */
  async function scriptStarted(disk: Disk, runId: string): Promise<boolean> {
    const runDir = join(diskPaths(disk).control, 'runs', runId);
    if (!(await exists(runDir))) return false;
    const deadline = Date.now() + 2000;
    while (!(await exists(join(runDir, 'pid')))) {
      if (Date.now() > deadline) return false;
      await sleep(RUN_POLL_MS);
    }
    return true;
  }

  // The script and its output go once the result is kept: the run directory may hold what protected parameters revealed.
  const releaseScript = async (disk: Disk, runId: string) => rm(join(diskPaths(disk).control, 'runs', runId), { recursive: true, force: true });

  if (isolation.isolated) {
    try {
      platform = await ensurePlatformLayers(home, options.caPem, [home, ...(options.privatePaths ?? [])]);
      network = await startGuestNetwork(join(home, 'guest-net'), options.files, () => options.storagePort?.());
      isolation = await trialBoot();
    } catch (error) {
      isolation = { isolated: false, reason: `the guest platform could not be prepared (${(error as Error).message})` };
    }
    if (isolation.isolated) await adoptGuests();
  }

  return {
    isolation,
    async startScript(job) {
      if (!isolation.isolated) throw new SandboxError(`guest: scripts are not run here (${isolation.reason})`);
      return startScript(job);
    },
    waitScript,
    scriptStarted,
    releaseScript,
    async runScript(job) {
      if (!isolation.isolated) return notIsolated(isolation.reason ?? 'unknown reason');
      const runId = await startScript(job);
      try {
        return await waitScript(job.disk, runId, job.onOutput);
      } finally {
        await releaseScript(job.disk, runId);
      }
    },
    stopGuest,
    isGuestRunning: (disk) => guests.has(disk.dir),
    async close(closeOptions = {}) {
      closed = true;
      for (const guest of guests.values()) clearInterval(guest.poller);
      if (closeOptions.stopGuests !== false) await Promise.all([...guests.values()].map((guest) => stopGuest(guest.disk)));
      await network?.close();
    },
  };
}
