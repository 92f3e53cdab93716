/** What the sandbox modules share: their error, running a host command, and waiting on a condition or a file. */
import { spawn } from 'node:child_process';
import { access, readdir, readFile } from 'node:fs/promises';

export class SandboxError extends Error {
  override name = 'SandboxError';
}

export const GUEST_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
export const BOOT_TIMEOUT_MS = 15_000;
export const isRoot = process.getuid?.() === 0;

export function run(command: string, args: string[], env?: NodeJS.ProcessEnv): Promise<{ code: number | null; stderr: string }> {
  return new Promise((done) => {
    const child = spawn(command, args, { stdio: ['ignore', 'ignore', 'pipe'], env });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', (error) => done({ code: null, stderr: error.message }));
    child.on('close', (code) => done({ code, stderr }));
  });
}

export async function exists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
  );
}

export const sleep = (ms: number) => new Promise((done) => setTimeout(done, ms));

export async function waitFor(condition: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new SandboxError(`guest: timed out waiting for ${what}`);
    await sleep(20);
  }
}

/** Whether a process of group `pgid` still lives (zombies, which only wait to be reaped, do not count). */
export async function groupAlive(pgid: number): Promise<boolean> {
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = await readFile(`/proc/${entry}/stat`, 'utf8').catch(() => '');
    // After "pid (command) " come state, parent and group; the command may hold spaces and parentheses.
    const [state, , group] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (state !== undefined && state !== 'Z' && state !== 'X' && Number(group) === pgid) return true;
  }
  return false;
}
