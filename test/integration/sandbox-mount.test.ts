// A guest's root is mounted writable or not at all: its init waits for both ID maps (overlayfs refuses a mount
// without the gid map, and util-linux `mount` then retried read-only by itself), and a mount that takes no write fails
// the boot with a clear error.
import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, readFile, readlink, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GUEST_MOUNT } from '../../local/azure/sandbox-guest.ts';
import { waitFor } from '../../local/azure/sandbox-process.ts';

const isRoot = process.getuid?.() === 0;
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'kiln-guest-mount-'));
  for (const name of ['lower', 'upper', 'work', 'merged', 'control-wait', 'control-refused']) await mkdir(join(dir, name));
});
afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** Runs GUEST_MOUNT then `body` in fresh user and mount namespaces whose ID maps the test writes (as the emulator does). */
function guestShell(control: string, body: string) {
  const child = spawn('unshare', ['--user', '--mount', '--propagation', 'private', '--', 'bash', '-c', `set -eu\n${GUEST_MOUNT}\n${body}`], {
    env: { PATH: process.env.PATH, KILN_CONTROL: join(dir, control) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<{ code: number | null; stdout: string; stderr: string }>((done) => child.on('close', (code) => done({ code, stdout, stderr })));
  return { pid: child.pid!, exited };
}

async function inNamespaces(pid: number): Promise<void> {
  const ours = await readlink('/proc/self/ns/user');
  await waitFor(async () => (await readlink(`/proc/${pid}/ns/user`).catch(() => ours)) !== ours, 10_000, 'the shell to enter its namespaces');
}

/** Distinct `sleep 0.01` processes of the ID-map wait seen since the call: the loop went round that many times. */
async function waitLoops(pid: number, count: number): Promise<void> {
  const seen = new Set<string>();
  await waitFor(async () => {
    for (const child of (await readFile(`/proc/${pid}/task/${pid}/children`, 'utf8').catch(() => '')).trim().split(/\s+/)) {
      if (child && (await readFile(`/proc/${child}/cmdline`, 'utf8').catch(() => '')).split('\0').join(' ') === 'sleep 0.01 ') seen.add(child);
    }
    return seen.size >= count;
  }, 10_000, `the shell to keep waiting for its gid map`);
}

describe.skipIf(!isRoot)('a guest mount', () => {
  it('waits for the gid map as well as the uid map, then mounts the overlay read-write', async () => {
    const shell = guestShell('control-wait', `mount_writable ${dir}/lower ${dir}/upper ${dir}/work ${dir}/merged; grep " ${dir}/merged " /proc/self/mountinfo`);
    await inNamespaces(shell.pid);
    await writeFile(`/proc/${shell.pid}/uid_map`, '0 0 4294967295\n');
    // Of three sleeps seen, two began after the uid map was written: the loop saw it and still waited.
    await waitLoops(shell.pid, 3);
    await writeFile(`/proc/${shell.pid}/gid_map`, '0 0 4294967295\n');
    const { code, stdout, stderr } = await shell.exited;
    expect(stderr).toBe('');
    expect(code).toBe(0);
    expect(stdout.split(' ')[5]).toMatch(/^rw\b/);
    // Mounted at the first attempt: nothing was refused on the way.
    expect(await readFile(join(dir, 'control-wait', 'mount.err'), 'utf8').catch(() => '')).toBe('');
  });

  it('fails with a clear error, never read-only, when the overlay refuses a read-write mount', async () => {
    // An upper directory on a read-only bind mount: overlayfs refuses it at every attempt.
    const shell = guestShell('control-refused', `mount --bind ${dir}/upper ${dir}/upper; mount -o remount,bind,ro ${dir}/upper; mount_writable ${dir}/lower ${dir}/upper ${dir}/work ${dir}/merged`);
    await inNamespaces(shell.pid);
    await writeFile(`/proc/${shell.pid}/gid_map`, '0 0 4294967295\n');
    await writeFile(`/proc/${shell.pid}/uid_map`, '0 0 4294967295\n');
    const { code, stderr } = await shell.exited;
    expect(code).toBe(1);
    expect(stderr).toContain(`guest: cannot mount ${dir}/merged writable over ${dir}/upper (5 attempts)`);
  });
});
