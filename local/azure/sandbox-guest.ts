/** What runs inside an emulated guest: its init (PID 1 of the VM) and the platform layer (waagent shim, CA trust). */
import { createHash } from 'node:crypto';
import { chmod, mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/** Where the host's per-disk control directory appears inside the guest. */
export const GUEST_CONTROL_DIR = '/run/kiln-guest';

/** Files the guest writes into its control directory for the emulator to see. */
export const CONTROL_FILES = {
  booted: 'booted',
  /** Written when the deprovision command starts: from then on no Run Command reports completion. */
  agentRemoved: 'agent-removed',
  /** Written last by the deprovision command, `shutdown` or `poweroff`: content is the reason. */
  poweroff: 'poweroff',
} as const;

/**
 * PID 1 of a guest, run by `unshare --mount --pid --fork` on the host side of the chroot. It mounts the overlay and
 * the pseudo filesystems, then idles (bash reaps orphaned processes on SIGCHLD) until the emulator process is gone.
 *
 * The host root enters through a read-only overlay of its own: overlayfs refuses a lower layer (platform layer,
 * image snapshots) below another lower layer's root on the same filesystem ("overlapping lowerdir path"), and the
 * intermediate overlay gives `/` a root of its own.
 */
export const GUEST_INIT = String.raw`
set -eu
mount -t tmpfs -o mode=755 tmpfs "$KILN_SCRATCH"
mkdir "$KILN_SCRATCH/empty" "$KILN_SCRATCH/host"
# Reading a FIFO we also hold open for writing blocks: a sleep with a timeout and no child process.
mkfifo "$KILN_SCRATCH/idle"
exec 3<> "$KILN_SCRATCH/idle"
if mount -t overlay kiln-host -o "ro,lowerdir=/:$KILN_SCRATCH/empty" "$KILN_SCRATCH/host" 2>/dev/null; then
  host="$KILN_SCRATCH/host"
else
  # The root is itself an overlay (a container): one more level passes the kernel's stacking limit. The root
  # then serves directly, which works when the disks live on another filesystem (a volume).
  host=/
fi
mounted=0
for attempt in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20; do
  # A guest stopped a moment ago may still hold the upper directory until its mount namespace is torn down.
  # No redirects or metadata-only copies: capture reads the upper directory as plain files and whiteouts.
  if mount -t overlay kiln-guest -o "lowerdir=$KILN_LOWER:$host,upperdir=$KILN_UPPER,workdir=$KILN_WORK,redirect_dir=off,metacopy=off" "$KILN_MERGED" 2>"$KILN_CONTROL/mount.err"; then
    mounted=1; break
  fi
  read -r -t 0.1 -u 3 || true
done
[ "$mounted" = 1 ] || { cat "$KILN_CONTROL/mount.err" >&2; exit 1; }
mount -t proc proc "$KILN_MERGED/proc"
mount --rbind /dev "$KILN_MERGED/dev"
mount -t tmpfs -o mode=1777 tmpfs "$KILN_MERGED/tmp"
mount -t tmpfs -o mode=755 tmpfs "$KILN_MERGED/run"
mkdir -p "$KILN_MERGED${GUEST_CONTROL_DIR}"
mount --bind "$KILN_CONTROL" "$KILN_MERGED${GUEST_CONTROL_DIR}"
echo $$ > "$KILN_CONTROL/${CONTROL_FILES.booted}"
# A trial boot (the isolation probe) stops here.
[ "$KILN_TRIAL" = 1 ] && exit 0
set +e
# Orphans are reaped between reads (bash defers SIGCHLD while a builtin waits), so keep the reads short.
# The host's /proc is still mounted here (outside the chroot): stop with the emulator that started us.
while [ -d "/proc/$KILN_EMULATOR_PID" ]; do read -r -t 0.1 -u 3; done
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

async function writeExecutable(path: string, text: string): Promise<void> {
  await writeFile(path, text);
  await chmod(path, 0o755);
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

/** Builds a read-only layer from files, content-addressed under `{home}/guest-platform` so guests share it. */
async function ensureLayer(home: string, kind: string, files: Record<string, { text: string; executable: boolean }>): Promise<string> {
  const digest = createHash('sha256').update(JSON.stringify(files)).digest('hex').slice(0, 16);
  const layer = join(home, 'guest-platform', `${kind}-${digest}`);
  if (await exists(layer)) return layer;
  const partial = `${layer}.${process.pid}.partial`;
  await rm(partial, { recursive: true, force: true });
  for (const [path, file] of Object.entries(files)) {
    const target = join(partial, path);
    await mkdir(join(target, '..'), { recursive: true });
    if (file.executable) await writeExecutable(target, file.text);
    else await writeFile(target, file.text);
  }
  await rename(partial, layer).catch(async (error: NodeJS.ErrnoException) => {
    // Another emulator in the same home made it first: theirs is identical.
    if (error.code !== 'ENOTEMPTY' && error.code !== 'EEXIST') throw error;
    await rm(partial, { recursive: true, force: true });
  });
  return layer;
}

/**
 * The two read-only layers every guest gets: `agent` above its image (the waagent and power-off shims, which an
 * image must not replace) and `trust` just above the host root (a CA bundle that also trusts the emulator, plus the
 * CA in /usr/local/share/ca-certificates so `update-ca-certificates` keeps it; an image's own bundle wins).
 */
export async function ensurePlatformLayers(home: string, caPem: string): Promise<{ agent: string; trust: string }> {
  const hostBundle = await readFile(HOST_CA_BUNDLE, 'utf8').catch(() => '');
  const bundle = `${hostBundle}${hostBundle.endsWith('\n') || hostBundle === '' ? '' : '\n'}${caPem.trim()}\n`;
  const agent = await ensureLayer(home, 'agent', {
    'usr/sbin/waagent': { text: WAAGENT_SHIM, executable: true },
    'usr/sbin/shutdown': { text: POWEROFF_SHIM, executable: true },
    'usr/sbin/poweroff': { text: POWEROFF_SHIM, executable: true },
    'usr/sbin/halt': { text: POWEROFF_SHIM, executable: true },
  });
  const trust = await ensureLayer(home, 'trust', {
    'etc/ssl/certs/ca-certificates.crt': { text: bundle, executable: false },
    'usr/local/share/ca-certificates/kiln-emulator-ca.crt': { text: `${caPem.trim()}\n`, executable: false },
  });
  return { agent, trust };
}
