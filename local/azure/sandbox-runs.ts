/**
 * Runs of scripts in a guest: a run is started detached inside the guest (it belongs to the guest, not to the
 * emulator), its result is read from the files it leaves in the disk's control directory (following its output as
 * it is written), and it is forgotten once its result is kept.
 */
import { mkdir, open, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { diskPaths, type Disk } from './disks.ts';
import { CONTROL_FILES, GUEST_CONTROL_DIR, GUEST_PROXY_PORT, GUEST_RUN_COMMAND } from './sandbox-guest.ts';
import { isAlive, type GuestRegistry } from './sandbox-guests.ts';
import { exists, GUEST_PATH, isRoot, run, SandboxError, sleep } from './sandbox-process.ts';
import type { RunScriptOptions, RunScriptResult } from './sandbox-types.ts';

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
/** How often a running script's output files are read for `onOutput`. */
const OUTPUT_TAIL_MS = 200;
const RUN_POLL_MS = 25;

/** The environment every script starts with: root's, plus the proxy that is the guest's way out. */
const SCRIPT_ENV: Record<string, string> = {
  PATH: GUEST_PATH, HOME: '/root', USER: 'root', LOGNAME: 'root', SHELL: '/bin/bash', LANG: 'C.UTF-8',
  ...Object.fromEntries(['http_proxy', 'https_proxy', 'HTTP_PROXY', 'HTTPS_PROXY'].map((name) => [name, `http://127.0.0.1:${GUEST_PROXY_PORT}`])),
  no_proxy: '127.0.0.1,localhost', NO_PROXY: '127.0.0.1,localhost',
};

const runDirOf = (disk: Disk, runId: string): string => join(diskPaths(disk).control, 'runs', runId);

/** The result of a script this machine cannot run: never on the host. */
export function notIsolated(reason: string): RunScriptResult {
  return {
    isolated: false,
    exitCode: null,
    stdout: '',
    stderr: '',
    timedOut: false,
    agentRemoved: false,
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

/** Starts `job` in its disk's guest (booting it if needed) and returns the run's id; `newRunId` names unnamed runs. */
export async function startRun(guests: GuestRegistry, job: RunScriptOptions, newRunId: () => string): Promise<string> {
  const env = job.env ?? {};
  validateEnv(env);
  if (!Number.isFinite(job.timeoutSec) || job.timeoutSec <= 0) {
    throw new SandboxError(`timeoutSec: expected a positive number of seconds, found ${JSON.stringify(job.timeoutSec)}`);
  }
  const guest = await guests.guestFor(job.disk);
  const runId = job.runId ?? newRunId();
  if (!/^[A-Za-z0-9-]+$/.test(runId)) throw new SandboxError(`runId: expected letters, digits and '-', found ${JSON.stringify(runId)}`);
  const runDir = runDirOf(job.disk, runId);
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

/**
 * Waits until the run ends or its guest stops, then reads its result. `isClosed` says the emulator closed: a closed
 * emulator is gone as a killed one is, and nothing of it reports any more (the next one will).
 */
export async function waitRun(guests: GuestRegistry, disk: Disk, runId: string, onOutput: RunScriptOptions['onOutput'], isClosed: () => boolean): Promise<RunScriptResult> {
  const control = diskPaths(disk).control;
  const runDir = runDirOf(disk, runId);
  const tail = onOutput ? tailOutput(runDir, onOutput) : undefined;
  let ended: string | undefined;
  for (;;) {
    if (isClosed()) {
      await tail?.stop();
      return new Promise<never>(() => undefined);
    }
    ended = await readFile(join(runDir, 'exit'), 'utf8').catch(() => undefined);
    const guest = await guests.find(disk);
    if (ended !== undefined || !guest || !(await isAlive(guest))) break;
    await sleep(RUN_POLL_MS);
  }
  await tail?.stop();
  const [code, timedOutFlag] = (ended ?? '').trim().split(' ');
  const timedOut = timedOutFlag === '1';
  const exitCode = ended === undefined || timedOut ? null : Number(code);
  // A script that ended before a deprovision it left behind removed the agent reported (read late, the file exists);
  // a handler of an older emulator noted nothing: the file, then.
  const gone = / agent-gone=([01])/.exec(ended ?? '')?.[1];
  const agentRemoved = gone !== undefined ? gone === '1' : await exists(join(control, CONTROL_FILES.agentRemoved));
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
    ...(message ? { message } : {}),
  };
}

/** Whether the guest took the run on (its handler wrote the script's PID); a handler starting now gets a moment. */
export async function runStarted(disk: Disk, runId: string): Promise<boolean> {
  const runDir = runDirOf(disk, runId);
  if (!(await exists(runDir))) return false;
  const deadline = Date.now() + 2000;
  while (!(await exists(join(runDir, 'pid')))) {
    if (Date.now() > deadline) return false;
    await sleep(RUN_POLL_MS);
  }
  return true;
}

/** The script and its output go once the result is kept: the run directory may hold what protected parameters revealed. */
export const releaseRun = async (disk: Disk, runId: string): Promise<void> => rm(runDirOf(disk, runId), { recursive: true, force: true });
