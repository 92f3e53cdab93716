// The guest sandbox for real: scripts in an overlay over the host's system directories, waagent deprovision, capture, timeouts.
import { existsSync } from 'node:fs';
import { execFile } from 'node:child_process';
import { chmod, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it, type TestContext } from 'vitest';
import {
  createDiskFrom,
  deleteSnapshot,
  diskPaths,
  existsOnDisk,
  provisionDisk,
  readFileFromDisk,
  snapshotDisk,
  type Disk,
} from '../../local/azure/disks.ts';
import { createSandbox, SandboxError, type GuestPowerOff, type Sandbox } from '../../local/azure/sandbox.ts';
import { loadOrCreateCertificate, type EmulatorCertificate } from '../../local/azure/tls.ts';

const execFileAsync = promisify(execFile);

let home: string;
let cert: EmulatorCertificate;
let sandbox: Sandbox;
const powerOffs: GuestPowerOff[] = [];
let diskCounter = 0;
const FILES_PORT = 8443;

async function newDisk(options: { provision?: boolean } = {}): Promise<Disk> {
  const disk = await createDiskFrom(null, join(home, 'disks', `vm${++diskCounter}`));
  if (options.provision) await provisionDisk(disk, { adminUsername: 'azureuser', hostname: `vm${diskCounter}` });
  return disk;
}

function requireIsolation(context: TestContext): void {
  if (!sandbox.isolation.isolated) context.skip(`no isolation here: ${sandbox.isolation.reason}`);
}

async function waitForPowerOff(disk: Disk, timeoutMs = 10_000): Promise<GuestPowerOff> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const event = powerOffs.find((candidate) => candidate.disk.dir === disk.dir);
    if (event) return event;
    if (Date.now() > deadline) throw new Error(`guest of ${disk.dir} did not power off within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** `sleep` processes in the guest that are not zombies (killed ones are reaped by the guest's init shortly after). */
async function liveSleeps(disk: Disk): Promise<number> {
  const result = await sandbox.runScript({ disk, script: 'ps -e -o stat=,comm= | awk \'$1 !~ /^Z/ && $2 == "sleep"\' | wc -l', timeoutSec: 10 });
  return Number(result.stdout.trim());
}

/** Host PIDs of live processes started for the disk's guest and not yet past its boot (they carry its control path). */
async function bootProcesses(disk: Disk): Promise<number[]> {
  const marker = `KILN_CONTROL=${diskPaths(disk).control}\0`;
  const found: number[] = [];
  for (const entry of (await readdir('/proc')).filter((name) => /^\d+$/.test(name))) {
    const environ = await readFile(`/proc/${entry}/environ`, 'utf8').catch(() => '');
    const state = (await readFile(`/proc/${entry}/stat`, 'utf8').catch(() => '')).split(') ')[1]?.[0];
    if (environ.includes(marker) && state !== 'Z') found.push(Number(entry));
  }
  return found;
}

const text = async (disk: Disk, path: string) => (await readFileFromDisk(disk, path))?.toString('utf8');

beforeAll(async () => {
  home = await mkdtemp(join(tmpdir(), 'kiln-sandbox-'));
  cert = await loadOrCreateCertificate(home);
  sandbox = await createSandbox({
    home, caPem: cert.caPem, onGuestPowerOff: (event) => powerOffs.push(event),
    // The port exists only inside guests (their relay listens there): no host listener is needed.
    files: { port: () => FILES_PORT, serve: async (_request, response) => void response.end('kiln-files'), certPem: cert.certPem, keyPem: cert.keyPem },
  });
});

afterAll(async () => {
  await sandbox?.close();
  await rm(home, { recursive: true, force: true });
});

describe('guest sandbox', () => {
  it('runs a script for real: writes land in the disk upper directory only, env vars arrive', async (context) => {
    requireIsolation(context);
    const disk = await newDisk();
    const marker = `/opt/kiln-sandbox-test-${process.pid}`;
    const result = await sandbox.runScript({
      disk,
      script: `set -e\nmkdir -p ${marker}\necho "$GREETING" > ${marker}/file\necho out; echo err >&2\nexit 7`,
      env: { GREETING: 'hello from the guest' },
      timeoutSec: 30,
    });
    expect(result).toMatchObject({ isolated: true, exitCode: 7, stdout: 'out\n', stderr: 'err\n', timedOut: false, agentRemoved: false });
    expect(existsSync(marker)).toBe(false);
    expect(existsSync(join(diskPaths(disk).upper, marker, 'file'))).toBe(true);
    expect(await text(disk, `${marker}/file`)).toBe('hello from the guest\n');
  });

  it('hands output to onOutput while the script runs, not only at its end', async (context) => {
    requireIsolation(context);
    const disk = await newDisk();
    const pieces: string[] = [];
    const result = await sandbox.runScript({
      disk,
      // Output is read every 200 ms: two seconds apart, the lines cannot arrive in the same piece.
      script: 'echo first\nsleep 2\necho second',
      timeoutSec: 30,
      onOutput: (stream, chunk) => void pieces.push(`${stream}:${chunk.toString()}`),
    });
    expect(result.stdout).toBe('first\nsecond\n');
    expect(pieces[0]).toBe('stdout:first\n');
  });

  it('hides a host file the guest deletes, in the VM and in images captured from it', async (context) => {
    requireIsolation(context);
    const disk = await newDisk();
    expect(existsSync('/etc/debian_version') || existsSync('/etc/os-release')).toBe(true);
    const victim = existsSync('/etc/debian_version') ? '/etc/debian_version' : '/etc/os-release';
    const result = await sandbox.runScript({ disk, script: `rm ${victim}\ntest ! -e ${victim}`, timeoutSec: 30 });
    expect(result.exitCode).toBe(0);
    expect(existsSync(victim)).toBe(true);
    await sandbox.stopGuest(disk);
    const image = await snapshotDisk(disk, join(home, 'images', 'whiteout'));
    const fromImage = await createDiskFrom(image, join(home, 'disks', 'from-whiteout'));
    expect(await existsOnDisk(fromImage, victim)).toBe(false);
    const inGuest = await sandbox.runScript({ disk: fromImage, script: `test -e ${victim} && echo present || echo absent`, timeoutSec: 30 });
    expect(inGuest.stdout).toBe('absent\n');
  });

  it('keeps a replaced host directory replaced (opaque) and a moved one moved, in the VM and its images', async (context) => {
    requireIsolation(context);
    expect(existsSync('/etc/ssh/ssh_config')).toBe(true);
    const disk = await newDisk();
    const result = await sandbox.runScript({
      disk,
      script: 'set -e\nmv /etc/ssh /etc/ssh.moved\nmkdir /etc/ssh\necho mine > /etc/ssh/only',
      timeoutSec: 30,
    });
    expect(result).toMatchObject({ exitCode: 0, stderr: '' });
    expect(existsSync('/etc/ssh/ssh_config')).toBe(true);
    await sandbox.stopGuest(disk);
    const image = await snapshotDisk(disk, join(home, 'images', 'opaque'));
    for (const view of [disk, await createDiskFrom(image, join(home, 'disks', 'from-opaque'))]) {
      expect(await text(view, '/etc/ssh/only')).toBe('mine\n');
      expect(await existsOnDisk(view, '/etc/ssh/ssh_config')).toBe(false);
      expect(await existsOnDisk(view, '/etc/ssh.moved/ssh_config')).toBe(true);
      const listing = await sandbox.runScript({ disk: view, script: 'ls /etc/ssh', timeoutSec: 30 });
      expect(listing.stdout).toBe('only\n');
    }
  });

  it('kills the whole process tree at the timeout', async (context) => {
    requireIsolation(context);
    const disk = await newDisk();
    const started = Date.now();
    const result = await sandbox.runScript({ disk, script: 'sleep 60 &\nsleep 60\n', timeoutSec: 1 });
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(result).toMatchObject({ timedOut: true, exitCode: null });
    expect(result.message).toContain('1 seconds');
    expect(await liveSleeps(disk)).toBe(0);
  });

  it('trusts the emulator CA inside the guest, at the files endpoint it reaches as the host does', async (context) => {
    requireIsolation(context);
    const disk = await newDisk();
    const url = `https://127.0.0.1:${FILES_PORT}/kiln-files/x`;
    const result = await sandbox.runScript({ disk, script: `curl -sS ${url}`, timeoutSec: 30 });
    expect(result.stderr).toBe('');
    expect(result.stdout).toBe('kiln-files');
    // A customization that rebuilds the trust store keeps trusting the emulator.
    const rebuilt = await sandbox.runScript({ disk, script: `update-ca-certificates >/dev/null 2>&1 && curl -sS ${url}`, timeoutSec: 60 });
    expect(rebuilt).toMatchObject({ exitCode: 0, stdout: 'kiln-files' });
  });

  it('deprovisions detached: the run completes, the guest powers off, machine identity is gone', async (context) => {
    requireIsolation(context);
    const disk = await newDisk({ provision: true });
    expect(await text(disk, '/etc/passwd')).toContain('azureuser:');
    expect(await text(disk, '/etc/machine-id')).toMatch(/^[0-9a-f]{32}\n$/);
    const joined = await sandbox.runScript({ disk, script: 'echo customized > /etc/kiln-customized\nusermod -aG sudo,adm azureuser', timeoutSec: 30 });
    expect(joined.exitCode).toBe(0);
    expect(await text(disk, '/etc/group')).toMatch(/^sudo:.*azureuser/m);

    const result = await sandbox.runScript({
      disk,
      script: 'nohup bash -c "sleep 0.5; waagent -force -deprovision+user" >/dev/null 2>&1 &\necho started',
      timeoutSec: 30,
    });
    expect(result).toMatchObject({ exitCode: 0, stdout: 'started\n', agentRemoved: false });
    expect(await waitForPowerOff(disk)).toMatchObject({ reason: 'deprovision' });
    expect(sandbox.isGuestRunning(disk)).toBe(false);

    expect(await text(disk, '/etc/machine-id')).toBe('');
    expect(await existsOnDisk(disk, '/etc/ssh/ssh_host_ed25519_key')).toBe(false);
    // The account files are the image's (here the host's) again, byte for byte: the user is gone, nothing else is.
    for (const file of ['/etc/passwd', '/etc/shadow', '/etc/group', '/etc/gshadow'].filter((path) => existsSync(path))) expect(await text(disk, file)).toBe(await readFile(file, 'utf8'));
    expect(await existsOnDisk(disk, '/home/azureuser')).toBe(false);
    expect(await existsOnDisk(disk, '/var/lib/waagent')).toBe(false);

    const image = await snapshotDisk(disk, join(home, 'images', 'generalized'));
    const instance = await createDiskFrom(image, join(home, 'disks', 'instance0'));
    expect(await text(instance, '/etc/kiln-customized')).toBe('customized\n');
    expect(await existsOnDisk(instance, '/home/azureuser')).toBe(false);
    expect(await existsOnDisk(instance, '/etc/resolv.conf')).toBe(false);
    await provisionDisk(instance, { adminUsername: 'azureuser', hostname: 'instance0' });
    expect(await text(instance, '/etc/machine-id')).toMatch(/^[0-9a-f]{32}\n$/);
    expect(await existsOnDisk(instance, '/etc/resolv.conf')).toBe(true);
    expect(await text(instance, '/etc/kiln-customized')).toBe('customized\n');
  });

  it('reports a run that ended before its detached deprovision removed the agent, even when read afterwards', async (context) => {
    requireIsolation(context);
    const disk = await newDisk({ provision: true });
    const runId = await sandbox.startScript({ disk, script: 'nohup bash -c "sleep 0.3; waagent -force -deprovision+user" >/dev/null 2>&1 &\necho started', timeoutSec: 30 });
    // A loaded emulator reads the result late: by then the deprovision has run and the guest is off.
    expect(await waitForPowerOff(disk)).toMatchObject({ reason: 'deprovision' });
    expect(await sandbox.waitScript(disk, runId)).toMatchObject({ exitCode: 0, stdout: 'started\n', agentRemoved: false });
    await sandbox.releaseScript(disk, runId);
  });

  it('reports a foreground deprovision as agent removed (Azure never completes that run)', async (context) => {
    requireIsolation(context);
    const disk = await newDisk({ provision: true });
    const result = await sandbox.runScript({ disk, script: 'waagent -deprovision+user -force\nsleep 5\necho unreachable', timeoutSec: 30 });
    expect(result.agentRemoved).toBe(true);
    expect(result.stdout).not.toContain('unreachable');
    expect(await waitForPowerOff(disk)).toMatchObject({ reason: 'deprovision' });
  });

  it('stopGuest kills processes left running in the guest', async (context) => {
    requireIsolation(context);
    const disk = await newDisk();
    expect(await sandbox.runScript({ disk, script: 'setsid sleep 300 >/dev/null 2>&1 < /dev/null &', timeoutSec: 30 })).toMatchObject({ exitCode: 0 });
    expect(sandbox.isGuestRunning(disk)).toBe(true);
    expect(await liveSleeps(disk)).toBe(1);
    await sandbox.stopGuest(disk);
    expect(sandbox.isGuestRunning(disk)).toBe(false);
    expect(await liveSleeps(disk)).toBe(0);
  });

  it('close stops a guest that is still booting: none of its processes outlive the emulator', async (context) => {
    requireIsolation(context);
    // A real boot is raced: on a loaded machine it may end before the scan of /proc sees it begin; then the case did
    // not happen, and it is tried again on a fresh guest (a few times at most).
    for (let attempt = 1; ; attempt++) {
      const closingHome = await mkdtemp(join(tmpdir(), 'kiln-sandbox-close-'));
      const closing = await createSandbox({ home: closingHome, caPem: cert.caPem });
      try {
        const disk = await createDiskFrom(null, join(closingHome, 'disks', 'booting'));
        const started = closing.startScript({ disk, script: 'true', timeoutSec: 10 }).then(() => 'started', (error: Error) => error.message);
        // The boot has begun (its processes exist) and has not ended (the guest does not run yet): close now.
        while ((await bootProcesses(disk)).length === 0) await new Promise((resolve) => setTimeout(resolve, 2));
        if (closing.isGuestRunning(disk)) {
          await started;
          if (attempt < 5) continue;
          throw new Error('five guests in a row booted before their boot could be seen: the case was never met');
        }
        await closing.close();
        expect(await bootProcesses(disk)).toEqual([]);
        expect(await started).toMatch(/the emulator closed while it booted/);
        return;
      } finally {
        await closing.close();
        await rm(closingHome, { recursive: true, force: true });
      }
    }
  });

  it('rejects parameter names that are not environment variable names', async (context) => {
    requireIsolation(context);
    const disk = await newDisk();
    await expect(sandbox.runScript({ disk, script: 'true', env: { 'bad-name': 'x' }, timeoutSec: 10 })).rejects.toThrow(SandboxError);
    await expect(sandbox.runScript({ disk, script: 'true', env: { 'bad-name': 'x' }, timeoutSec: 10 })).rejects.toThrow('"bad-name"');
  });

  it('does not run the script where isolation is impossible, and says so', async () => {
    const unisolated = await createSandbox({ home, caPem: cert.caPem, isolation: 'off' });
    const disk = await newDisk();
    const marker = join(tmpdir(), `kiln-must-not-exist-${process.pid}`);
    const result = await unisolated.runScript({ disk, script: `touch ${marker}`, timeoutSec: 10 });
    expect(result).toMatchObject({ isolated: false, exitCode: null, timedOut: false });
    expect(result.message).toMatch(/not run/i);
    expect(existsSync(marker)).toBe(false);
    expect(await readdir(diskPaths(disk).upper)).toEqual([]);
    await unisolated.close();
  });

  it('works unprivileged: the guest is a user namespace of the emulator\'s user, or scripts are not run', async (context) => {
    if (process.getuid?.() !== 0) context.skip('needs root to drop to an unprivileged user');
    const dir = await mkdtemp(join(tmpdir(), 'kiln-unprivileged-'));
    await chmod(dir, 0o777);
    const modules = join(import.meta.dirname, '..', '..', 'local', 'azure');
    const check = join(dir, 'check.ts');
    await writeFile(
      check,
      `import { createDiskFrom, provisionDisk, readFileFromDisk, snapshotDisk } from '${modules}/disks.ts';
       import { createSandbox } from '${modules}/sandbox.ts';
       const home = '${dir}';
       const sandbox = await createSandbox({ home, caPem: 'unused' });
       const disk = await createDiskFrom(null, home + '/disks/vm');
       await provisionDisk(disk, { adminUsername: 'azureuser', hostname: 'vm' });
       const run = await sandbox.runScript({ disk, script: 'id -u; touch ' + home + '/ran; echo made > /etc/made', timeoutSec: 20 });
       await sandbox.close();
       const image = await snapshotDisk(disk, home + '/images/v1');
       const copy = await createDiskFrom(image, home + '/disks/copy');
       const passwd = String(await readFileFromDisk(copy, '/etc/passwd'));
       const made = String(await readFileFromDisk(copy, '/etc/made'));
       console.log(JSON.stringify({ isolation: sandbox.isolation, run, hasUser: passwd.includes('azureuser:'), made }));`,
      { mode: 0o644 },
    );
    try {
      const { stdout } = await execFileAsync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, '--disable-warning=ExperimentalWarning', check]);
      const outcome = JSON.parse(stdout);
      expect(outcome.hasUser).toBe(true);
      // Never on the host, whether or not the script ran.
      expect(existsSync(join(dir, 'ran'))).toBe(false);
      if (outcome.isolation.isolated) {
        // Root inside its own user namespace; the home is not visible there; its writes land on the disk.
        expect(outcome.run).toMatchObject({ isolated: true, exitCode: 0, stdout: '0\n' });
        expect(outcome.run.stderr).toMatch(/No such file or directory/);
        expect(outcome.made).toBe('made\n');
      } else {
        expect(outcome.run).toMatchObject({ isolated: false, exitCode: null });
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('keeps snapshots independent of the VM they came from', async (context) => {
    requireIsolation(context);
    const disk = await newDisk();
    await sandbox.runScript({ disk, script: 'echo v1 > /etc/kiln-version', timeoutSec: 30 });
    await sandbox.stopGuest(disk);
    const image = await snapshotDisk(disk, join(home, 'images', 'independent'));
    await sandbox.runScript({ disk, script: 'echo v2 > /etc/kiln-version', timeoutSec: 30 });
    // Captured files are copies, not links to the VM's upper directory.
    expect((await stat(join(image.dir, 'tree', 'etc', 'kiln-version'))).nlink).toBe(1);
    const fromImage = await createDiskFrom(image, join(home, 'disks', 'independent'));
    expect(await text(fromImage, '/etc/kiln-version')).toBe('v1\n');
    // Like an Azure OS disk, a VM's disk outlives the image it was made from.
    const copy = await snapshotDisk(fromImage, join(home, 'images', 'independent-copy'));
    await deleteSnapshot(image);
    expect(await text(fromImage, '/etc/kiln-version')).toBe('v1\n');
    const booted = await sandbox.runScript({ disk: fromImage, script: 'cat /etc/kiln-version', timeoutSec: 30 });
    expect(booted.stdout).toBe('v1\n');
    expect(await text(await createDiskFrom(copy, join(home, 'disks', 'independent-2')), '/etc/kiln-version')).toBe('v1\n');
  });
});
