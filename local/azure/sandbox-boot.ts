/**
 * Boots a guest's init in its own namespaces over its disk, detached from the emulator: the overlay mounts it is
 * given (the disk over the host's system directories), the `unshare` that starts it, and the trial boot that tells
 * whether this machine can build a guest at all.
 */
import { spawn } from 'node:child_process';
import { mkdir, open, readFile, readlink, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createDiskFrom, deleteDisk, diskPaths, type Disk } from './disks.ts';
import { CONTROL_FILES, GUEST_INIT, GUEST_NET_DIR, GUEST_PROXY_PORT, type PlatformLayers } from './sandbox-guest.ts';
import { FILES_SOCKET, PROXY_SOCKET, STORAGE_SOCKET, type GuestFiles, type GuestNetwork } from './sandbox-network.ts';
import { BOOT_TIMEOUT_MS, exists, GUEST_PATH, isRoot, SandboxError, waitFor } from './sandbox-process.ts';
import type { Sandbox } from './sandbox-types.ts';

const RELAY = join(dirname(fileURLToPath(import.meta.url)), 'sandbox-relay.ts');

/** What booting a guest needs from its emulator; platform and network exist once isolation was prepared. */
export interface GuestHost {
  /** The emulator's home (absolute). */
  home: string;
  platform?: PlatformLayers;
  network?: GuestNetwork;
  files?: GuestFiles;
  storagePort?: () => number | undefined;
}

/** The guest's overlay mounts: the root over the skeleton, and each system directory over its host directory. */
function mountPlan(home: string, disk: Disk, layers: PlatformLayers): { rootLower: string; systemMounts: string[]; hostView: string } {
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
export async function spawnInit(host: GuestHost, disk: Disk, trial: boolean): Promise<{ unsharePid: number; exited: Promise<number | null>; bootLog: string }> {
  const { platform, network } = host;
  if (!platform || !network) throw new SandboxError('guest: cannot boot without isolation');
  const paths = diskPaths(disk);
  const plan = mountPlan(host.home, disk, platform);
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
  const files = host.files?.port();
  const storage = host.storagePort?.();
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
    // The gid map first: init mounts once it sees both (overlayfs refuses a read-write mount without the gid map).
    await writeFile(`/proc/${pid}/gid_map`, '0 0 4294967295\n');
    await writeFile(`/proc/${pid}/uid_map`, '0 0 4294967295\n');
  }
  return { unsharePid: child.pid, exited, bootLog };
}

/** Boots a throwaway guest once: some machines pass every precondition yet cannot build a guest. */
export async function trialBoot(host: GuestHost): Promise<Sandbox['isolation']> {
  const disk = await createDiskFrom(null, join(host.home, 'guest-trial', `${process.pid}-${Date.now()}`));
  try {
    const init = await spawnInit(host, disk, true);
    const code = await init.exited;
    const log = (await readFile(init.bootLog, 'utf8').catch(() => '')).trim();
    return code === 0 ? { isolated: true } : { isolated: false, reason: `a trial guest could not be built (${log || `exit ${code}`})` };
  } catch (error) {
    return { isolated: false, reason: `a trial guest could not be built (${(error as Error).message})` };
  } finally {
    await deleteDisk(disk);
  }
}
