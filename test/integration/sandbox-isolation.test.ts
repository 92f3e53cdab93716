// What a guest can and cannot reach (docs/emulator-guests.md, "Isolation"): each claim there is one test here.
import { createServer, type Server } from 'node:http';
import { mkdir, mkdtemp, readlink, rm, writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, type TestContext } from 'vitest';
import { createDiskFrom, type Disk } from '../../local/azure/disks.ts';
import { createSandbox, type Sandbox } from '../../local/azure/sandbox.ts';
import { decideDestination, isPublicAddress } from '../../local/azure/sandbox-network.ts';
import { loadOrCreateCertificate } from '../../local/azure/tls.ts';

const repo = join(import.meta.dirname, '../..');
const FILES_PORT = 8443;
let home: string;
let sandbox: Sandbox;
let hostService: Server;
let hostPort: number;
let hostTmpFile: string;
/** A private path inside a system directory (as KILN_HOME under /var would be). */
let privateInVar: string;
let diskCounter = 0;

async function newDisk(): Promise<Disk> {
  return createDiskFrom(null, join(home, 'disks', `vm${++diskCounter}`));
}

function requireIsolation(context: TestContext): void {
  if (!sandbox.isolation.isolated) context.skip(`no isolation here: ${sandbox.isolation.reason}`);
}

async function run(script: string): Promise<{ exitCode: number | null; stdout: string; stderr: string }> {
  return sandbox.runScript({ disk: await newDisk(), script, timeoutSec: 30 });
}

beforeAll(async () => {
  home = await mkdtemp(join(tmpdir(), 'kiln-isolation-'));
  await writeFile(join(home, 'keys.json'), '{"function":"secret"}');
  hostTmpFile = join(tmpdir(), `kiln-host-tmp-${process.pid}`);
  await writeFile(hostTmpFile, 'host tmp');
  privateInVar = `/var/lib/kiln-isolation-${process.pid}`;
  await mkdir(privateInVar, { recursive: true });
  await writeFile(join(privateInVar, 'keys.json'), 'secret');
  hostService = createServer((_request, response) => response.end('host service'));
  await new Promise<void>((resolve) => hostService.listen(0, '127.0.0.1', resolve));
  hostPort = (hostService.address() as AddressInfo).port;
  const cert = await loadOrCreateCertificate(home);
  sandbox = await createSandbox({
    home, caPem: cert.caPem, privatePaths: [privateInVar, repo],
    files: { port: () => FILES_PORT, serve: async (request, response) => void response.end(`file ${request.url}`), certPem: cert.certPem, keyPem: cert.keyPem },
  });
});

afterAll(async () => {
  await sandbox?.close();
  hostService?.close();
  await rm(home, { recursive: true, force: true });
  await rm(hostTmpFile, { force: true });
  await rm(privateInVar, { recursive: true, force: true });
});

describe('a guest cannot reach', () => {
  it("the emulator's home (keys, stores, other guests' disks), a private path inside a system directory, the checkout, home directories, the host's /tmp", async (context) => {
    requireIsolation(context);
    const other = await newDisk();
    const paths = [join(home, 'keys.json'), other.dir, join(privateInVar, 'keys.json'), join(repo, 'README.md'), hostTmpFile, '/root/.bashrc', '/var/tmp'];
    const result = await run(paths.map((path) => `if [ -e ${path} ]; then echo "visible: ${path}"; fi`).join('\n') + '\nls /home /root /tmp | tr "\\n" " "');
    expect(result.stdout).not.toMatch(/visible/);
    // What is there is the guest's own: empty home directories and a fresh /tmp.
    expect(result.stdout.replace(/\s+/g, ' ').trim()).toBe('/home: /root: /tmp:');
  });

  it('a block device: /dev holds only null, zero, full, random, urandom, tty and the guest\'s own pts; none can be made', async (context) => {
    requireIsolation(context);
    const result = await run('ls /dev | tr "\\n" " "; mknod /tmp/disk b 254 0 && echo made; for d in /dev/vda /dev/sda /dev/loop0 /dev/nvme0n1; do if head -c1 $d >/dev/null 2>&1; then echo "read $d"; fi; done; ls /sys');
    expect(result.stdout.split('\n')[0]!.trim().split(' ').sort()).toEqual(['fd', 'full', 'null', 'ptmx', 'pts', 'random', 'shm', 'stderr', 'stdin', 'stdout', 'tty', 'urandom', 'zero']);
    expect(result.stdout).not.toMatch(/made|read/);
    expect(result.stderr).toMatch(/mknod: .*Operation not permitted/);
  });

  it("the host's loopback services and 169.254.169.254, directly or through the proxy", async (context) => {
    requireIsolation(context);
    const result = await run([
      `curl -sS -m 5 --noproxy '*' http://127.0.0.1:${hostPort}/ && echo "reached host directly"`,
      `curl -fsS -m 5 --noproxy '' -x http://127.0.0.1:3128 http://127.0.0.1:${hostPort}/ && echo "reached host via proxy"`,
      `curl -sS -m 5 --noproxy '' -x http://127.0.0.1:3128 -p http://127.0.0.1:${hostPort}/ ; echo`,
      `curl -sS -m 5 --noproxy '*' http://169.254.169.254/metadata && echo "reached metadata directly"`,
      'curl -sS -m 5 http://169.254.169.254/metadata/instance; echo',
    ].join('\n'));
    expect(result.stdout).not.toMatch(/reached|host service/);
    // The proxy says why it refused.
    expect(result.stdout).toMatch(/169\.254\.169\.254 is 169\.254\.169\.254: guests reach public addresses only/);
    expect(result.stderr).toMatch(/CONNECT tunnel failed, response 403/);
    expect(result.stderr).toMatch(/Failed to connect to 127\.0\.0\.1 port \d+/);
  });

  it('the host as root: the guest has its own user, mount, PID, IPC, UTS and network namespaces', async (context) => {
    requireIsolation(context);
    const kinds = ['user', 'mnt', 'pid', 'ipc', 'uts', 'net'];
    const result = await run(`for ns in ${kinds.join(' ')}; do readlink /proc/self/ns/$ns; done; ip -o link | cut -d: -f2`);
    const host = await Promise.all(kinds.map((kind) => readlink(`/proc/self/ns/${kind}`)));
    const guest = result.stdout.trim().split('\n');
    for (const [index, kind] of kinds.entries()) expect(guest[index], kind).not.toBe(host[index]);
    // Loopback is its only network interface.
    expect(guest.slice(kinds.length).map((line) => line.trim())).toEqual(['lo']);
  });
});

describe('a guest can reach', () => {
  it('the files endpoint at the URL the host uses, directly and through the proxy', async (context) => {
    requireIsolation(context);
    const url = `https://127.0.0.1:${FILES_PORT}/kiln-files/scripts/setup.sh`;
    const result = await run(`curl -sS ${url}; echo; curl -sS --noproxy '' -x http://127.0.0.1:3128 ${url}`);
    expect(result.stderr).toBe('');
    expect(result.stdout).toBe('file /kiln-files/scripts/setup.sh\nfile /kiln-files/scripts/setup.sh');
  });
});

describe("the proxy's decision (public mirrors cannot be reached offline: the decision is tested instead)", () => {
  const resolver = (answers: Record<string, string[]>) => async (name: string) => {
    const found = answers[name];
    if (!found) throw Object.assign(new Error('not found'), { code: 'ENOTFOUND' });
    return found;
  };

  it('lets public addresses through, pinned to the address it checked', async () => {
    expect(await decideDestination('archive.ubuntu.com', 80, FILES_PORT, resolver({ 'archive.ubuntu.com': ['91.189.91.83'] }))).toEqual({ kind: 'public', address: '91.189.91.83', port: 80 });
    expect(await decideDestination('[2620:2d:4000:1::16]', 443, FILES_PORT)).toEqual({ kind: 'public', address: '2620:2d:4000:1::16', port: 443 });
  });

  it('maps the files endpoint, and only its port on loopback', async () => {
    expect(await decideDestination('127.0.0.1', FILES_PORT, FILES_PORT)).toEqual({ kind: 'files' });
    expect(await decideDestination('localhost', FILES_PORT, FILES_PORT)).toEqual({ kind: 'files' });
    expect((await decideDestination('127.0.0.1', FILES_PORT + 1, FILES_PORT)).kind).toBe('refused');
  });

  it('refuses loopback, link-local, private and unresolvable destinations, and names that resolve to them', async () => {
    const names = resolver({ 'rebind.example': ['93.184.216.34', '127.0.0.1'], 'intranet.example': ['10.1.2.3'] });
    for (const host of ['127.0.0.1', '169.254.169.254', '10.0.0.1', '172.16.5.4', '192.168.1.1', '100.64.0.1', '0.0.0.0', '[::1]', '[fe80::1]', '[fd00::1]', '[::ffff:127.0.0.1]', 'rebind.example', 'intranet.example', 'nowhere.example']) {
      const decision = await decideDestination(host, 80, FILES_PORT, names);
      expect(decision.kind, host).toBe('refused');
    }
    expect((await decideDestination('example.com', 0, FILES_PORT)).kind).toBe('refused');
    expect(isPublicAddress('8.8.8.8')).toBe(true);
    expect(isPublicAddress('::ffff:10.0.0.1')).toBe(false);
  });
});
