/**
 * Emulated VM disks as directories: an image snapshot is a merged file tree; a VM disk is its own upper directory
 * over snapshot layers over the host root (which is never copied). Capture merges the layers back into a snapshot.
 */
import { execFile } from 'node:child_process';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { chmod, copyFile, constants, lchown, lstat, lutimes, mkdir, readdir, readFile, readlink, rename, rm, symlink, writeFile } from 'node:fs/promises';
import type { Stats } from 'node:fs';
import { dirname, join, posix } from 'node:path';
import { promisify } from 'node:util';
import { copyTree, isWhiteout, listOpaqueDirs, markOpaque, opaqueFlags } from './disks-overlay.ts';
import { SYSTEM_DIRS } from './sandbox-guest.ts';

/** A VM's disk. Serializable: the emulator keeps it in its resource store. */
export interface Disk {
  dir: string;
  /** Image trees under the disk's own upper directory, top first; the host root `/` is always below them. */
  layers: string[];
}

/** A captured image (managed image or gallery version): a merged tree at `{dir}/tree`, immutable once made. */
export interface Snapshot {
  dir: string;
}

export class DiskError extends Error {
  override name = 'DiskError';
}

const HOST_ROOT = '/';
const runFile = promisify(execFile);

export function diskPaths(disk: Disk): { upper: string; work: string; merged: string; control: string } {
  return {
    upper: join(disk.dir, 'upper'),
    work: join(disk.dir, 'work'),
    merged: join(disk.dir, 'merged'),
    control: join(disk.dir, 'control'),
  };
}

export function snapshotTree(snapshot: Snapshot): string {
  return join(snapshot.dir, 'tree');
}

function guestPath(path: string): string {
  const normalized = posix.normalize(path);
  if (!posix.isAbsolute(normalized)) throw new DiskError(`disk path: expected an absolute path, found ${JSON.stringify(path)}`);
  return normalized;
}

async function statOrUndefined(path: string): Promise<Stats | undefined> {
  try {
    return await lstat(path);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
    throw error;
  }
}

const isRoot = process.getuid?.() === 0;

/**
 * Gives a disk entry the owner the guest expects. Only root can; elsewhere guests never run (no isolation), so the
 * owner only matters for the record and the entry keeps the emulator's.
 */
async function setOwner(path: string, uid: number, gid: number): Promise<void> {
  if (isRoot) await lchown(path, uid, gid);
}

/**
 * A hard-linked copy of an immutable tree (snapshot files are never written, overlayfs only reads lower layers).
 * Directories are new, so their opaque marks are set again.
 */
async function linkTree(source: string, target: string): Promise<void> {
  await copyTree(source, target, { hardLinks: true });
  await markOpaque([...(await listOpaqueDirs(source))].map((dir) => target + dir.slice(source.length)));
}

/**
 * A new disk at `dir`: empty upper over a linked copy of the source snapshot (or over the bare host root for
 * marketplace images). Like an Azure OS disk, it does not depend on the image afterwards: deleting the image
 * version leaves the VMs made from it intact.
 */
export async function createDiskFrom(source: Snapshot | null, dir: string): Promise<Disk> {
  if (await statOrUndefined(dir)) throw new DiskError(`disk ${dir}: already exists`);
  const base = join(dir, 'base');
  const disk: Disk = { dir, layers: source ? [base] : [] };
  const paths = diskPaths(disk);
  for (const path of [paths.upper, paths.work, paths.merged, paths.control]) await mkdir(path, { recursive: true });
  if (source) {
    const tree = snapshotTree(source);
    if (!(await statOrUndefined(tree))?.isDirectory()) throw new DiskError(`disk ${dir}: source image ${source.dir} has no tree`);
    await linkTree(tree, base);
  }
  await writeFile(join(dir, 'disk.json'), JSON.stringify(disk));
  return disk;
}

export async function openDisk(dir: string): Promise<Disk> {
  try {
    return JSON.parse(await readFile(join(dir, 'disk.json'), 'utf8')) as Disk;
  } catch (error) {
    throw new DiskError(`disk ${dir}: cannot open (${(error as Error).message})`);
  }
}

export async function deleteDisk(disk: Disk): Promise<void> {
  await rm(disk.dir, { recursive: true, force: true });
}

export async function deleteSnapshot(snapshot: Snapshot): Promise<void> {
  await rm(snapshot.dir, { recursive: true, force: true });
}

/** The layers of a disk, top first, as seen by overlayfs (the host root last). */
function layerStack(disk: Disk): string[] {
  return [diskPaths(disk).upper, ...disk.layers, HOST_ROOT];
}

/**
 * Finds where `path` lives in the merged view: the topmost layer holding it, unless a whiteout hides it.
 * Opaque directories are honoured: below one, lower layers do not contribute.
 */
async function resolveInLayers(
  disk: Disk,
  path: string,
  linksFollowed = 0,
): Promise<{ layerPath: string; stats: Stats } | undefined> {
  const parts = guestPath(path).split('/').filter(Boolean);
  for (const layer of layerStack(disk)) {
    const isHost = layer === HOST_ROOT;
    // A guest sees only the host's system directories (sandbox-guest.ts).
    if (isHost && !SYSTEM_DIRS.includes(parts[0] ?? '')) continue;
    const ancestors: string[] = [];
    for (let depth = 1; depth < parts.length; depth += 1) {
      const ancestor = join(layer, ...parts.slice(0, depth));
      const stats = await statOrUndefined(ancestor);
      if (!stats) break;
      if (stats.isSymbolicLink()) {
        // Directory links (/bin -> usr/bin) resolve in the guest's merged view, like the kernel would.
        if (linksFollowed >= 40) throw new DiskError(`disk path ${path}: too many levels of symbolic links`);
        const linkDir = '/' + parts.slice(0, depth - 1).join('/');
        const rest = parts.slice(depth).join('/');
        return resolveInLayers(disk, posix.join(posix.resolve(linkDir, await readlink(ancestor)), rest), linksFollowed + 1);
      }
      // A whiteout or a file in a higher layer hides everything below that name.
      if (!stats.isDirectory()) return undefined;
      ancestors.push(ancestor);
    }
    const layerPath = join(layer, ...parts);
    const stats = await statOrUndefined(layerPath);
    if (stats) return !isHost && isWhiteout(stats) ? undefined : { layerPath, stats };
    if (!isHost && ancestors.length > 0 && (await opaqueFlags(ancestors)).some(Boolean)) return undefined;
  }
  return undefined;
}

/** A file's content as the guest sees it, or undefined if it does not exist there. */
export async function readFileFromDisk(disk: Disk, path: string, linksFollowed = 0): Promise<Buffer | undefined> {
  const found = await resolveInLayers(disk, path);
  if (!found) return undefined;
  if (found.stats.isSymbolicLink() && linksFollowed < 40) {
    const target = posix.resolve(posix.dirname(guestPath(path)), await readlink(found.layerPath));
    return readFileFromDisk(disk, target, linksFollowed + 1);
  }
  if (!found.stats.isFile()) throw new DiskError(`disk ${disk.dir}: ${path} is not a regular file`);
  return readFile(found.layerPath);
}

/** Whether anything (file, directory, link) exists at `path` in the guest's view. */
export async function existsOnDisk(disk: Disk, path: string): Promise<boolean> {
  return (await resolveInLayers(disk, path)) !== undefined;
}

/** Creates the directories leading to `path` in the upper layer with the owners and modes the guest already sees. */
async function ensureUpperParents(disk: Disk, path: string): Promise<void> {
  const parts = guestPath(path).split('/').filter(Boolean).slice(0, -1);
  const upper = diskPaths(disk).upper;
  for (let depth = 1; depth <= parts.length; depth += 1) {
    const relative = '/' + parts.slice(0, depth).join('/');
    const upperPath = join(upper, relative);
    if (await statOrUndefined(upperPath)) continue;
    const seen = await resolveInLayers(disk, relative);
    await mkdir(upperPath);
    if (seen?.stats.isDirectory()) {
      await chmod(upperPath, seen.stats.mode & 0o7777);
      await setOwner(upperPath, seen.stats.uid, seen.stats.gid);
    }
  }
}

/** Writes a file into the disk's upper layer (the guest must not be running). Keeps an existing file's owner/mode. */
export async function writeFileToDisk(
  disk: Disk,
  path: string,
  content: string | Buffer,
  options: { mode?: number; uid?: number; gid?: number } = {},
): Promise<void> {
  const existing = await resolveInLayers(disk, path);
  await ensureUpperParents(disk, path);
  const upperPath = join(diskPaths(disk).upper, guestPath(path));
  await rm(upperPath, { force: true });
  await writeFile(upperPath, content);
  await chmod(upperPath, options.mode ?? (existing ? existing.stats.mode & 0o7777 : 0o644));
  await setOwner(upperPath, options.uid ?? existing?.stats.uid ?? 0, options.gid ?? existing?.stats.gid ?? 0);
}

async function makeUpperDir(disk: Disk, path: string, mode: number, uid: number, gid: number): Promise<void> {
  await ensureUpperParents(disk, path);
  const upperPath = join(diskPaths(disk).upper, guestPath(path));
  await mkdir(upperPath, { recursive: true });
  await chmod(upperPath, mode);
  await setOwner(upperPath, uid, gid);
}

/** Copies one entry's owner, mode and times onto another (the parts `copyFile`/`mkdir` do not carry). */
async function copyMetadata(stats: Stats, target: string): Promise<void> {
  await setOwner(target, stats.uid, stats.gid);
  if (!stats.isSymbolicLink()) await chmod(target, stats.mode & 0o7777);
  await lutimes(target, stats.atime, stats.mtime);
}

/** Applies one overlay layer onto a merged tree: whiteouts delete, opaque directories replace, the rest overlays. */
async function applyLayer(layerDir: string, treeDir: string, opaque: Set<string>): Promise<void> {
  for (const name of await readdir(layerDir)) {
    const source = join(layerDir, name);
    const target = join(treeDir, name);
    const stats = await lstat(source);
    const existing = await statOrUndefined(target);
    if (stats.isDirectory() && existing?.isDirectory() && !opaque.has(source)) {
      await applyLayer(source, target, opaque);
      await copyMetadata(stats, target);
      continue;
    }
    if (existing) await rm(target, { recursive: true, force: true });
    if (stats.isDirectory()) {
      await copyTree(source, target);
      await markOpaque([...opaque].filter((dir) => dir === source || dir.startsWith(source + '/')).map((dir) => target + dir.slice(source.length)));
    } else if (stats.isFile()) {
      // Copied, not linked: a VM that keeps running after capture must not change the image.
      await copyFile(source, target, constants.COPYFILE_FICLONE);
      await copyMetadata(stats, target);
    } else if (stats.isSymbolicLink()) {
      await symlink(await readlink(source), target);
      await copyMetadata(stats, target);
    } else {
      // Whiteouts (kept: they hide host-root files in every VM made from the snapshot), fifos, sockets, devices.
      await copyTree(source, target);
    }
  }
}

/**
 * Captures a disk into a snapshot at `dest`: the merged tree of its snapshot layers and upper directory, with
 * whiteouts kept so files deleted from the host root stay deleted. Snapshot layers are hard-linked (immutable).
 */
export async function snapshotDisk(disk: Disk, dest: string): Promise<Snapshot> {
  if (await statOrUndefined(dest)) throw new DiskError(`snapshot ${dest}: already exists`);
  const partial = `${dest}.partial`;
  await rm(partial, { recursive: true, force: true });
  await mkdir(partial, { recursive: true });
  const tree = join(partial, 'tree');
  const [bottom, ...higher] = [...disk.layers].reverse();
  if (bottom) {
    await linkTree(bottom, tree);
  } else {
    await mkdir(tree);
  }
  for (const layer of [...higher, diskPaths(disk).upper]) {
    await applyLayer(layer, tree, await listOpaqueDirs(layer));
  }
  await writeFile(join(partial, 'snapshot.json'), JSON.stringify({ createdAt: new Date().toISOString(), from: disk.dir }));
  await mkdir(dirname(dest), { recursive: true });
  await rename(partial, dest);
  return { dir: dest };
}

export interface ProvisionOptions {
  adminUsername: string;
  hostname: string;
  /** OpenSSH public key for the admin user's authorized_keys. */
  sshPublicKey?: string;
}

const USERNAME = /^[a-z_][a-z0-9_-]{0,31}$/;

/** An OpenSSH `ssh-ed25519 …` public key line and its private key, made with Node's crypto. */
function sshHostKeyPair(comment: string): { privatePem: string; publicLine: string } {
  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  const raw = Buffer.from(publicKey.export({ format: 'jwk' }).x ?? '', 'base64url');
  const lengthPrefixed = (data: Buffer) => {
    const length = Buffer.alloc(4);
    length.writeUInt32BE(data.length);
    return Buffer.concat([length, data]);
  };
  const wire = Buffer.concat([lengthPrefixed(Buffer.from('ssh-ed25519')), lengthPrefixed(raw)]);
  return {
    privatePem: privateKey.export({ format: 'pem', type: 'pkcs8' }).toString(),
    publicLine: `ssh-ed25519 ${wire.toString('base64')} ${comment}\n`,
  };
}

function nextUid(passwd: string): number {
  const uids = passwd
    .split('\n')
    .map((line) => Number(line.split(':')[2]))
    .filter((uid) => uid >= 1000 && uid < 60000);
  return uids.length === 0 ? 1000 : Math.max(...uids) + 1;
}

/**
 * An account file's text ('' when absent). Unprivileged, the host's /etc/shadow is unreadable: guests never run
 * there, so the account records suffice.
 */
async function accountFile(disk: Disk, path: string): Promise<string> {
  const content = await readFileFromDisk(disk, path).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'EACCES' && !isRoot) return undefined;
    throw error;
  });
  return content?.toString('utf8') ?? '';
}

/**
 * Gives a disk the machine identity Azure's provisioning gives a new VM from a generalized image: machine-id,
 * hostname, SSH host keys, the admin user (with sudo, as waagent does) and the agent's state directory.
 * The guest must not be running.
 */
export async function provisionDisk(disk: Disk, options: ProvisionOptions): Promise<void> {
  const user = options.adminUsername;
  if (!USERNAME.test(user)) {
    throw new DiskError(`adminUsername: expected a Linux user name (${USERNAME.source}), found ${JSON.stringify(user)}`);
  }
  const text = (path: string) => accountFile(disk, path);
  const withLine = (content: string, line: string) => (content === '' || content.endsWith('\n') ? content : content + '\n') + line + '\n';

  const passwd = await text('/etc/passwd');
  if (!passwd.split('\n').some((line) => line.startsWith(`${user}:`))) {
    const uid = nextUid(passwd);
    await writeFileToDisk(disk, '/etc/passwd', withLine(passwd, `${user}:x:${uid}:${uid}::/home/${user}:/bin/bash`));
    await writeFileToDisk(disk, '/etc/shadow', withLine(await text('/etc/shadow'), `${user}:!:20000:0:99999:7:::`), { mode: 0o640 });
    await writeFileToDisk(disk, '/etc/group', withLine(await text('/etc/group'), `${user}:x:${uid}:`));
    await makeUpperDir(disk, `/home/${user}`, 0o750, uid, uid);
    if (options.sshPublicKey) {
      await makeUpperDir(disk, `/home/${user}/.ssh`, 0o700, uid, uid);
      await writeFileToDisk(disk, `/home/${user}/.ssh/authorized_keys`, options.sshPublicKey.trim() + '\n', { mode: 0o600, uid, gid: uid });
    }
  }
  await writeFileToDisk(disk, `/etc/sudoers.d/waagent`, `${user} ALL=(ALL) NOPASSWD:ALL\n`, { mode: 0o440 });
  await writeFileToDisk(disk, '/etc/machine-id', randomBytes(16).toString('hex') + '\n', { mode: 0o444 });
  await writeFileToDisk(disk, '/etc/hostname', options.hostname + '\n');
  const hostKey = sshHostKeyPair(`root@${options.hostname}`);
  await writeFileToDisk(disk, '/etc/ssh/ssh_host_ed25519_key', hostKey.privatePem, { mode: 0o600 });
  await writeFileToDisk(disk, '/etc/ssh/ssh_host_ed25519_key.pub', hostKey.publicLine, { mode: 0o644 });
  await makeUpperDir(disk, '/var/lib/waagent', 0o700, 0, 0);
  await writeFileToDisk(
    disk,
    '/var/lib/waagent/ovf-env.xml',
    `<ns0:Environment xmlns:ns0="http://schemas.dmtf.org/ovf/environment/1"><ns1:LinuxProvisioningConfigurationSet xmlns:ns1="http://schemas.microsoft.com/windowsazure"><ns1:HostName>${options.hostname}</ns1:HostName><ns1:UserName>${user}</ns1:UserName></ns1:LinuxProvisioningConfigurationSet></ns0:Environment>\n`,
    { mode: 0o600 },
  );
  await writeFileToDisk(disk, '/var/lib/waagent/provisioned', '', { mode: 0o644 });
  // Deprovision deletes resolv.conf; on Azure DHCP brings the nameservers back at first boot, here the host's do.
  if (!(await existsOnDisk(disk, '/etc/resolv.conf'))) {
    const hostResolvConf = await readFile('/etc/resolv.conf').catch(() => undefined);
    if (hostResolvConf) await writeFileToDisk(disk, '/etc/resolv.conf', hostResolvConf, { mode: 0o644 });
  }
}

/**
 * Removes an entry from the guest's view: from the upper layer, and where a lower layer still shows it, by an overlayfs
 * whiteout. Only root can make one (a 0/0 character device); elsewhere the lower entry stays visible.
 */
async function removeFromDisk(disk: Disk, path: string): Promise<void> {
  const upperPath = join(diskPaths(disk).upper, guestPath(path));
  await rm(upperPath, { recursive: true, force: true });
  if (!isRoot || !(await resolveInLayers(disk, path))) return;
  await ensureUpperParents(disk, path);
  await runFile('mknod', [upperPath, 'c', '0', '0']);
}

/** Names in a directory of the guest's view, from every layer (a name a higher layer hides is checked on removal). */
async function namesOnDisk(disk: Disk, dir: string): Promise<Set<string>> {
  const names = new Set<string>();
  for (const layer of layerStack(disk)) {
    for (const name of await readdir(join(layer, guestPath(dir))).catch(() => [])) names.add(name);
  }
  return names;
}

/**
 * What `waagent -deprovision+user -force` does to a disk (as the guests' shim in sandbox-guest.ts does), applied
 * from the host with nothing run, where guests cannot run: SSH host keys, DHCP leases, resolv.conf, the agent's
 * state and the last provisioned user go, the hostname becomes localhost.localdomain, machine-id is emptied.
 * The guest must not be running.
 */
export async function deprovisionDisk(disk: Disk): Promise<void> {
  const ovf = (await readFileFromDisk(disk, '/var/lib/waagent/ovf-env.xml'))?.toString('utf8') ?? '';
  const user = /<[^>]*UserName>([^<]*)<\/[^>]*UserName>/.exec(ovf)?.[1];
  const hostKeys = [...(await namesOnDisk(disk, '/etc/ssh'))].filter((name) => name.startsWith('ssh_host_')).map((name) => `/etc/ssh/${name}`);
  const leases = [...(await namesOnDisk(disk, '/var/lib/NetworkManager'))].filter((name) => /^dhclient-.*\.lease$/.test(name)).map((name) => `/var/lib/NetworkManager/${name}`);
  const gone = [
    ...hostKeys, ...leases, '/var/lib/dhclient', '/var/lib/dhcpcd', '/var/lib/dhcp', '/etc/resolv.conf',
    '/var/lib/waagent', '/var/log/azure', '/var/log/waagent.log', '/root/.bash_history',
    ...(user ? [`/home/${user}`, '/etc/sudoers.d/waagent'] : []),
  ];
  for (const path of gone) await removeFromDisk(disk, path);
  if (await existsOnDisk(disk, '/etc/machine-id')) await writeFileToDisk(disk, '/etc/machine-id', '');
  await writeFileToDisk(disk, '/etc/hostname', 'localhost.localdomain\n');
  if (!user) return;
  // The user's own entries go, and it leaves every group's member (and, in gshadow, admin) list.
  const memberFields: Record<string, number[]> = { '/etc/passwd': [], '/etc/shadow': [], '/etc/group': [3], '/etc/gshadow': [2, 3] };
  for (const [file, fields] of Object.entries(memberFields)) {
    const content = await accountFile(disk, file);
    const kept = content
      .split('\n')
      .filter((line) => line.split(':')[0] !== user)
      .map((line) => {
        const parts = line.split(':');
        for (const field of fields) if (parts[field] !== undefined) parts[field] = parts[field].split(',').filter((m) => m !== '' && m !== user).join(',');
        return parts.join(':');
      })
      .join('\n');
    if (kept !== content) await writeFileToDisk(disk, file, kept);
  }
}
