/** What runs inside an emulated guest: its init (PID 1 of the VM), its Run Command handler, and the platform layers its root is built from. */
import { createHash } from 'node:crypto';
import { execFile } from 'node:child_process';
import { chmod, lstat, mkdir, readFile, readlink, rename, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { promisify } from 'node:util';

const runFile = promisify(execFile);

/** Where the host's per-disk control directory appears inside the guest. */
export const GUEST_CONTROL_DIR = '/run/kiln-guest';

/** Files the guest writes into its control directory for the emulator to see. */
export const CONTROL_FILES = {
  booted: 'booted',
  /** Written when the deprovision command starts: from then on no Run Command reports completion. */
  agentRemoved: 'agent-removed',
  /** Written last by the deprovision command, `shutdown` or `poweroff`: content is the reason. */
  poweroff: 'poweroff',
  /** Written by the emulator before boot and deleted with the disk: the guest stops when it is gone. */
  alive: 'alive',
} as const;

/** The Run Command handler inside the guest (in the agent layer). */
export const GUEST_RUN_COMMAND = '/usr/lib/kiln-agent/run-command';

/** Where the emulator's guest network sockets appear inside the guest (read-only). */
export const GUEST_NET_DIR = '/run/kiln-net';

/** The forward proxy's address inside a guest: its own loopback, relayed to the emulator's proxy. */
export const GUEST_PROXY_PORT = 3128;

/**
 * The rest of a guest's life as PID 1: idle (bash reaps orphaned processes on SIGCHLD) while the disk exists (the
 * emulator deletes the marker with it) and until the guest powers off.
 */
const GUEST_IDLE = String.raw`
mkfifo /run/kiln-idle
# Reading a FIFO we also hold open for writing blocks: a sleep with a timeout and no child process.
exec 3<> /run/kiln-idle
# Orphans are reaped between reads (bash defers SIGCHLD while a builtin waits), so keep the reads short.
while [ -e ${GUEST_CONTROL_DIR}/${CONTROL_FILES.alive} ] && [ ! -e ${GUEST_CONTROL_DIR}/${CONTROL_FILES.poweroff} ]; do read -r -t 0.1 -u 3; done
`;

/**
 * The first part of a guest's init: wait for its ID maps, and `mount_writable LOWER UPPER WORK TARGET`. util-linux
 * `mount` retries a refused read-write mount read-only by itself and reports success: before the gid map is written
 * the read-write overlay mount is refused, so a map written in between left a guest with a read-only root. `-w`
 * forbids that, and a write proves each mount.
 */
export const GUEST_MOUNT = String.raw`
# As root the emulator writes an identity ID map from outside (both maps: overlayfs refuses a mount without the gid
# map); wait for it (rootless unshare maps us itself).
until read -r _ < /proc/self/uid_map && read -r _ < /proc/self/gid_map; do sleep 0.01; done
mount_writable() {
  for wait in 0 0.1 0.25 0.5 1; do
    sleep "$wait"
    if mount -w -t overlay kiln-guest -o "userxattr,lowerdir=$1,upperdir=$2,workdir=$3" "$4" 2>>"$KILN_CONTROL/mount.err"; then
      # A file only the upper layer has leaves nothing behind when removed (no whiteout).
      : > "$4/.kiln-write-check" 2>>"$KILN_CONTROL/mount.err" && rm -f "$4/.kiln-write-check" && return 0
      echo "overlay on $4 is read-only" >>"$KILN_CONTROL/mount.err"
      umount "$4"
    fi
  done
  echo "guest: cannot mount $4 writable over $2 (5 attempts): $(tail -n 3 "$KILN_CONTROL/mount.err" | tr '\n' ' ')" >&2
  exit 1
}
`;

/**
 * PID 1 of a guest, run by `unshare --user --mount --pid --ipc --uts --net --fork`. Still seeing the host's files, it
 * mounts the guest root (one overlay for the root, one per host system directory, each over the disk's layers), a
 * minimal /dev, fresh /proc, /tmp and /run, brings up loopback, starts the network relay, then pivots into the guest
 * root and detaches the host's tree, so no process of the guest (init included) can reach a host path.
 * It then idles (bash reaps orphaned processes on SIGCHLD) until the guest powers off or its disk is deleted.
 */
export const GUEST_INIT = String.raw`
set -eu
${GUEST_MOUNT}
mount_writable "$KILN_ROOT_LOWER" "$KILN_UPPER" "$KILN_WORK/root" "$KILN_MERGED"
# The host directories enter through read-only overlays of their own (see KILN_HOST_VIEW below), on a tmpfs.
[ -z "$KILN_HOST_VIEW" ] || mount -t tmpfs -o mode=755 tmpfs "$KILN_HOST_VIEW"
# Arguments: (system directory, its lowerdir) pairs, e.g. usr and "{agent}/usr:{image}/usr:/usr".
while [ $# -ge 2 ]; do
  dir=$1; lower=$2; shift 2
  if [ -n "$KILN_HOST_VIEW" ]; then
    # The host directory holds the disks: a read-only overlay of its own keeps overlayfs from seeing overlapping layers.
    mkdir -p "$KILN_HOST_VIEW/$dir" "$KILN_HOST_VIEW/.empty"
    mount -t overlay kiln-host -o "ro,userxattr,lowerdir=/$dir:$KILN_HOST_VIEW/.empty" "$KILN_HOST_VIEW/$dir"
  fi
  mount_writable "$lower" "$KILN_UPPER/$dir" "$KILN_WORK/$dir" "$KILN_MERGED/$dir"
done
M=$KILN_MERGED
mount -t proc -o nosuid,nodev,noexec proc "$M/proc"
mount -t tmpfs -o mode=755,nosuid,size=64k tmpfs "$M/dev"
for device in null zero full random urandom tty; do : > "$M/dev/$device"; mount --bind "/dev/$device" "$M/dev/$device"; done
mkdir "$M/dev/pts" "$M/dev/shm"
mount -t devpts -o newinstance,ptmxmode=0666,mode=620 devpts "$M/dev/pts"
mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs "$M/dev/shm"
ln -s pts/ptmx "$M/dev/ptmx"; ln -s /proc/self/fd "$M/dev/fd"
ln -s /proc/self/fd/0 "$M/dev/stdin"; ln -s /proc/self/fd/1 "$M/dev/stdout"; ln -s /proc/self/fd/2 "$M/dev/stderr"
mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs "$M/tmp"
mount -t tmpfs -o mode=755,nosuid,nodev tmpfs "$M/run"
mkdir -p "$M${GUEST_CONTROL_DIR}" "$M${GUEST_NET_DIR}" "$M/run/host-root"
mount --bind "$KILN_CONTROL" "$M${GUEST_CONTROL_DIR}"
mount --bind "$KILN_NET" "$M${GUEST_NET_DIR}"
mount -o remount,bind,ro "$M${GUEST_NET_DIR}"
if [ -f "$M/etc/hostname" ]; then read -r name < "$M/etc/hostname" || true; [ -n "$name" ] && hostname "$name"; fi
ip link set lo up
cd /
# The relay listens on the guest's loopback and connects to the emulator's sockets by their guest path, so it
# keeps working once the host tree is gone.
"$KILN_NODE" "$KILN_RELAY" "$KILN_CONTROL/relay-ready" $KILN_RELAY_ROUTES </dev/null >/dev/null 2>>"$KILN_CONTROL/relay.log" &
until [ -e "$KILN_CONTROL/relay-ready" ]; do kill -0 $! 2>/dev/null || { echo "guest network relay failed: $(cat "$KILN_CONTROL/relay.log")" >&2; exit 1; }; sleep 0.01; done
cd "$M"
pivot_root . run/host-root
cd /
umount -l /run/host-root
rmdir /run/host-root
echo $$ > ${GUEST_CONTROL_DIR}/${CONTROL_FILES.booted}
# A trial boot (the isolation probe) stops here.
[ "$KILN_TRIAL" = 1 ] && exit 0
# From here on init is the guest's own bash, without the host paths this script was given.
exec env -i /bin/bash -c '${GUEST_IDLE}' kiln-guest-init
`;


/**
 * The Run Command handler inside a guest (`/usr/lib/kiln-agent/run-command DIR`), started detached so it belongs to
 * the guest and not to the emulator: it runs DIR/script.sh in a session of its own, kills that session at the
 * timeout, and writes `exit` (exit code, timed out, whether the agent was already removed) when the script ends. Everything it knows is in DIR, so an emulator restarted meanwhile reads the result from there.
 */
const RUN_COMMAND = String.raw`#!/bin/bash
# Let go of the starter's pipes at once: the emulator waits for them to close before it follows the run's output.
exec </dev/null >/dev/null 2>&1
dir=$1
read -r timeout < "$dir/timeout"
cd /
setsid /bin/bash "$dir/script.sh" </dev/null >"$dir/stdout" 2>"$dir/stderr" &
pid=$!
echo "$pid" > "$dir/pid"
mkfifo "$dir/.timer"
( exec 3<> "$dir/.timer"; read -r -t "$timeout" -u 3 || { : > "$dir/timed-out"; kill -KILL -- -"$pid"; } ) &
timer=$!
wait "$pid"
code=$?
kill "$timer" 2>/dev/null
wait "$timer" 2>/dev/null
timedOut=0; [ -e "$dir/timed-out" ] && timedOut=1
# Whether the agent was already gone (a deprovision started) when the script ended: then nothing reports the result.
gone=0; [ -e "${GUEST_CONTROL_DIR}/${CONTROL_FILES.agentRemoved}" ] && gone=1
echo "$code $timedOut agent-gone=$gone" > "$dir/exit.partial"
mv "$dir/exit.partial" "$dir/exit"
`;

/** Stand-in for the Azure Linux Agent inside guests: `waagent -deprovision[+user] -force`, with its effects. */
const WAAGENT_SHIM = String.raw`#!/bin/bash
# Kiln emulator: the Azure Linux Agent's deprovision command (azurelinuxagent/pa/deprovision), then power-off.
set -u
mode=""; force=0
for arg in "$@"; do
  case "$arg" in
    -deprovision|--deprovision) mode=deprovision ;;
    -deprovision+user|--deprovision+user) mode=deprovision+user ;;
    -force|--force) force=1 ;;
    -version|--version) echo "WALinuxAgent (Kiln emulator shim)"; exit 0 ;;
    *) echo "waagent: unsupported argument '$arg' (this emulated agent supports -deprovision[+user] [-force])" >&2; exit 1 ;;
  esac
done
[ -n "$mode" ] || { echo "usage: waagent -deprovision[+user] [-force]" >&2; exit 1; }
echo "WARNING! The waagent service will be stopped."
echo "WARNING! Cached DHCP leases will be deleted."
echo "WARNING! root password will be disabled. You will not be able to login as root."
echo "WARNING! /etc/resolv.conf will be deleted."
user=""
if [ "$mode" = deprovision+user ]; then
  if [ -f /var/lib/waagent/ovf-env.xml ]; then
    user=$(sed -n 's:.*<[^>]*UserName>\([^<]*\)</[^>]*UserName>.*:\1:p' /var/lib/waagent/ovf-env.xml | head -n 1)
    echo "WARNING! $user account and entire home directory will be deleted."
  else
    echo "WARNING! ovf-env.xml is not found. The last provisioned user will not be deleted."
  fi
fi
if [ "$force" = 0 ]; then
  read -r -p "Do you want to proceed (y/n)" answer || answer=n
  [ "$answer" = y ] || exit 1
fi
date +%s > ${GUEST_CONTROL_DIR}/${CONTROL_FILES.agentRemoved}
rm -f /etc/ssh/ssh_host_*
[ -e /etc/machine-id ] && : > /etc/machine-id
rm -rf /var/lib/dhclient /var/lib/dhcpcd /var/lib/dhcp /var/lib/NetworkManager/dhclient-*.lease
rm -f /etc/resolv.conf
echo localhost.localdomain > /etc/hostname
rm -rf /var/lib/waagent /var/log/azure /var/log/waagent.log /root/.bash_history
if [ -n "$user" ]; then
  # Drop the user's own entries and take it out of every group's member (and, in gshadow, admin) list.
  for file in /etc/passwd /etc/shadow /etc/group /etc/gshadow; do
    [ -f "$file" ] || continue
    awk -F: -v OFS=: -v user="$user" -v lists="$([ "$file" = /etc/group ] && echo 4 || echo 3,4)" '
      $1 == user { next }
      FILENAME ~ /group|gshadow/ {
        split(lists, fields, ",")
        for (f in fields) {
          n = split($fields[f], members, ","); kept = ""
          for (i = 1; i <= n; i++) if (members[i] != user && members[i] != "") kept = kept (kept == "" ? "" : ",") members[i]
          if (fields[f] <= NF) $fields[f] = kept
        }
      }
      { print }' "$file" > "$file.kiln-tmp" && cat "$file.kiln-tmp" > "$file"
    rm -f "$file.kiln-tmp"
  done
  rm -rf "/home/$user" /etc/sudoers.d/waagent
fi
echo deprovision > ${GUEST_CONTROL_DIR}/${CONTROL_FILES.poweroff}
`;

/** `shutdown`, `poweroff`, `halt` inside a guest: ask the emulator to stop the VM. */
const POWEROFF_SHIM = `#!/bin/sh
# Kiln emulator: the guest asks the platform to stop the VM.
echo shutdown > ${GUEST_CONTROL_DIR}/${CONTROL_FILES.poweroff}
`;

const HOST_CA_BUNDLE = '/etc/ssl/certs/ca-certificates.crt';

/**
 * Host directories a guest's root is built from (read-only lower layers, each under its own overlay). Everything
 * else at the host's top level (home directories, /tmp, /work, /mnt, /srv, …) is absent from a guest.
 */
export const SYSTEM_DIRS = ['usr', 'etc', 'var', 'opt', 'bin', 'sbin', 'lib', 'lib32', 'lib64', 'libx32'];

/** Empty directories every guest root has: mount points and the places an image or provisioning fills. */
const ROOT_DIRS = ['proc', 'dev', 'sys', 'tmp', 'run', 'home', 'root', 'mnt', 'media', 'srv', 'boot'];

/** Host paths inside system directories that are never a guest's: temporary files of the host's users. */
const PRIVATE_SYSTEM_PATHS = ['/var/tmp', '/var/mail', '/var/spool/cron', '/var/lib/sudo'];

type LayerEntry = { text: string; executable: boolean } | { directory: number } | { symlink: string } | { whiteout: true };

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

/** Builds a read-only layer, content-addressed under `{home}/guest-platform` so guests share it. */
async function ensureLayer(home: string, kind: string, entries: Record<string, LayerEntry>): Promise<string> {
  const digest = createHash('sha256').update(JSON.stringify(entries)).digest('hex').slice(0, 16);
  const layer = join(home, 'guest-platform', `${kind}-${digest}`);
  if (await exists(layer)) return layer;
  const partial = `${layer}.${process.pid}.partial`;
  await rm(partial, { recursive: true, force: true });
  await mkdir(partial, { recursive: true });
  for (const [path, entry] of Object.entries(entries).sort(([a], [b]) => a.localeCompare(b))) {
    const target = join(partial, path);
    await mkdir(dirname(target), { recursive: true });
    if ('directory' in entry) {
      await mkdir(target, { recursive: true });
      await chmod(target, entry.directory);
    } else if ('symlink' in entry) {
      await symlink(entry.symlink, target);
    } else if ('whiteout' in entry) {
      // overlayfs hides a lower entry under a 0/0 character device (unprivileged users may make this one).
      await runFile('mknod', [target, 'c', '0', '0']);
    } else {
      await writeFile(target, entry.text);
      await chmod(target, entry.executable ? 0o755 : 0o644);
    }
  }
  await rename(partial, layer).catch(async (error: NodeJS.ErrnoException) => {
    // Another emulator in the same home made it first: theirs is identical.
    if (error.code !== 'ENOTEMPTY' && error.code !== 'EEXIST') throw error;
    await rm(partial, { recursive: true, force: true });
  });
  return layer;
}

/** Guest root layers: what each layer holds is documented at `ensurePlatformLayers`. */
export interface PlatformLayers {
  agent: string;
  trust: string;
  mask: string;
  skeleton: string;
  /** The host system directories guests see (real directories at the host's top level). */
  systemDirs: string[];
}

/** What the host's top level offers guests: system directories, and the links among them (bin -> usr/bin). */
async function hostSystemLayout(): Promise<{ dirs: string[]; links: Record<string, string> }> {
  const dirs: string[] = [];
  const links: Record<string, string> = {};
  for (const name of SYSTEM_DIRS) {
    const stats = await lstat(join('/', name)).catch(() => undefined);
    if (stats?.isDirectory()) dirs.push(name);
    else if (stats?.isSymbolicLink()) links[name] = await readlink(join('/', name));
  }
  return { dirs, links };
}

/**
 * The read-only layers every guest gets:
 * - `agent` above its image: the waagent and power-off shims, the Run Command handler and the proxy settings for
 *   apt, which an image must not replace;
 * - `trust` below its image: a CA bundle that also trusts the emulator, and the CA in
 *   /usr/local/share/ca-certificates so `update-ca-certificates` keeps it (an image's own bundle wins);
 * - `mask` just above the host: whiteouts hiding private host paths that lie inside system directories (the
 *   emulator's home, the checkout, the user's home, host temporary directories);
 * - `skeleton` at the bottom of the root overlay: the empty top-level directories and the host's top-level links.
 */
export async function ensurePlatformLayers(home: string, caPem: string, privatePaths: string[]): Promise<PlatformLayers> {
  const hostBundle = await readFile(HOST_CA_BUNDLE, 'utf8').catch(() => '');
  const bundle = `${hostBundle}${hostBundle.endsWith('\n') || hostBundle === '' ? '' : '\n'}${caPem.trim()}\n`;
  const proxy = `http://127.0.0.1:${GUEST_PROXY_PORT}/`;
  // Rootless, only the guest's root user is mapped: apt cannot drop to its _apt user.
  const aptSandbox = process.getuid?.() === 0 ? '' : 'APT::Sandbox::User "root";\n';
  const agent = await ensureLayer(home, 'agent', {
    'usr/sbin/waagent': { text: WAAGENT_SHIM, executable: true },
    'usr/sbin/shutdown': { text: POWEROFF_SHIM, executable: true },
    'usr/sbin/poweroff': { text: POWEROFF_SHIM, executable: true },
    'usr/sbin/halt': { text: POWEROFF_SHIM, executable: true },
    [GUEST_RUN_COMMAND.slice(1)]: { text: RUN_COMMAND, executable: true },
    'etc/apt/apt.conf.d/99kiln-proxy': { text: `Acquire::http::Proxy "${proxy}";\nAcquire::https::Proxy "${proxy}";\n${aptSandbox}`, executable: false },
  });
  const trust = await ensureLayer(home, 'trust', {
    'etc/ssl/certs/ca-certificates.crt': { text: bundle, executable: false },
    'usr/local/share/ca-certificates/kiln-emulator-ca.crt': { text: `${caPem.trim()}\n`, executable: false },
  });
  const layout = await hostSystemLayout();
  const hidden = [...PRIVATE_SYSTEM_PATHS, ...privatePaths]
    .map((path) => resolve(path))
    .filter((path) => layout.dirs.some((dir) => path.startsWith(`/${dir}/`)));
  const mask = await ensureLayer(home, 'mask', Object.fromEntries(hidden.map((path) => [path.slice(1), { whiteout: true } as const])));
  const skeleton = await ensureLayer(home, 'skeleton', {
    ...Object.fromEntries([...ROOT_DIRS, ...layout.dirs].map((name) => [name, { directory: name === 'root' ? 0o700 : name === 'tmp' ? 0o1777 : 0o755 }])),
    ...Object.fromEntries(Object.entries(layout.links).map(([name, target]) => [name, { symlink: target }])),
  });
  return { agent, trust, mask, skeleton, systemDirs: layout.dirs };
}
