/** overlayfs on-disk conventions the disk layers use: whiteouts (char device 0/0) and opaque directories (xattr). */
import { execFile } from 'node:child_process';
import { existsSync, type Stats } from 'node:fs';
import { lstat } from 'node:fs/promises';
import { promisify } from 'node:util';

const run = promisify(execFile);

// The system interpreter, not a version-manager shim from PATH: shims cost a few hundred ms per call.
const PYTHON = ['/usr/bin/python3', '/usr/local/bin/python3', '/bin/python3'].find((candidate) => existsSync(candidate));

/**
 * Whether opaque marks can be read here. Without Python none can be, but none exist either unless guests ran,
 * and the sandbox only isolates guests where this is true.
 */
export const canReadOpaqueMarks = PYTHON !== undefined;

async function python(script: string, args: string[]): Promise<string> {
  if (!PYTHON) throw new Error('overlayfs opaque directories: python3 is needed to set their marks and was not found');
  const { stdout } = await run(PYTHON, ['-c', script, ...args], { maxBuffer: 64 * 1024 * 1024 });
  return stdout;
}

/** overlayfs marks a deleted lower entry with a 0/0 character device in the upper layer. */
export function isWhiteout(stats: Stats): boolean {
  return stats.isCharacterDevice() && stats.rdev === 0;
}

// Node has no xattr API; Python's standard library does, and it ships with the base images Kiln targets.
const LIST_OPAQUE = `
import os, sys
root = sys.argv[1]
for d, dirs, files in os.walk(root):
    try:
        if os.getxattr(d, 'user.overlay.opaque', follow_symlinks=False) == b'y':
            print(d)
    except OSError:
        pass
`;
const MARK_OPAQUE = `
import os, sys
for d in sys.argv[1:]:
    os.setxattr(d, 'user.overlay.opaque', b'y', follow_symlinks=False)
`;

const CHECK_OPAQUE = `
import os, sys
for d in sys.argv[1:]:
    try:
        print('1' if os.getxattr(d, 'user.overlay.opaque', follow_symlinks=False) == b'y' else '0')
    except OSError:
        print('0')
`;

// overlayfs marks a directory opaque only when it creates it (over a whiteout), never later, and so does
// markOpaque on fresh copies: (inode, birth time) identifies a directory whose flag cannot change.
const opaqueCache = new Map<string, boolean>();

/** For each directory, whether it is opaque; one Python call for all that are not cached yet. */
export async function opaqueFlags(dirs: string[]): Promise<boolean[]> {
  const keys = await Promise.all(
    dirs.map(async (dir) => {
      const stats = await lstat(dir);
      return `${stats.dev}:${stats.ino}:${stats.birthtimeMs}`;
    }),
  );
  const unknown = dirs.filter((_, index) => !opaqueCache.has(keys[index] ?? ''));
  if (unknown.length > 0 && canReadOpaqueMarks) {
    const flags = (await python(CHECK_OPAQUE, unknown)).split('\n');
    for (const [index, dir] of unknown.entries()) {
      opaqueCache.set(keys[dirs.indexOf(dir)] ?? '', flags[index] === '1');
    }
  }
  return keys.map((key) => opaqueCache.get(key) ?? false);
}

/** Every directory under `root` (included) that overlayfs marked opaque: it hides all lower layers' content. */
export async function listOpaqueDirs(root: string): Promise<Set<string>> {
  if (!canReadOpaqueMarks) return new Set();
  return new Set((await python(LIST_OPAQUE, [root])).split('\n').filter((line) => line !== ''));
}

export async function markOpaque(dirs: string[]): Promise<void> {
  if (dirs.length > 0) await python(MARK_OPAQUE, dirs);
}

/** Copies a file tree with ownership, modes, times and special files; reflinks where the filesystem can. */
export async function copyTree(source: string, target: string, options: { hardLinks?: boolean } = {}): Promise<void> {
  const mode = options.hardLinks ? '--link' : '--reflink=auto';
  await run('cp', ['-a', mode, '--no-target-directory', source, target]);
}
