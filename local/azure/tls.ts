/** The emulator's TLS identity: a local CA and a server certificate for 127.0.0.1/localhost, kept under its home. */
import { X509Certificate } from 'node:crypto';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { generate } from 'selfsigned';

export interface EmulatorCertificate {
  /** The CA that clients (SDK tlsOptions.ca, staging VMs) trust. */
  caPem: string;
  /** Server certificate (signed by the CA) and its private key, for https.createServer. */
  certPem: string;
  keyPem: string;
  /** Path of the CA PEM file (KILN_CA_CERT_PATH for clients in other processes). */
  caCertPath: string;
}

const CA_DAYS = 3650;
const SERVER_DAYS = 825;
// Reissue a server certificate this close to expiry, so a long-lived home never serves an expired one.
const RENEW_BEFORE_MS = 7 * 24 * 3600_000;

function daysFromNow(days: number): Date {
  return new Date(Date.now() + days * 24 * 3600_000);
}

async function readIfExists(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

/** Writes through a temporary file so a crash never leaves half a PEM behind. */
async function writeAtomic(path: string, text: string, mode: number): Promise<void> {
  const temporary = `${path}.${process.pid}.tmp`;
  await writeFile(temporary, text, { mode });
  await rename(temporary, path);
}

function validFor(pem: string, caPem?: string): boolean {
  try {
    const cert = new X509Certificate(pem);
    if (Date.parse(cert.validTo) - Date.now() < RENEW_BEFORE_MS) return false;
    return caPem === undefined || cert.checkIssued(new X509Certificate(caPem));
  } catch {
    return false;
  }
}

async function createCa(): Promise<{ cert: string; key: string }> {
  const result = await generate([{ name: 'commonName', value: 'Kiln local emulator CA' }], {
    keySize: 2048,
    algorithm: 'sha256',
    notAfterDate: daysFromNow(CA_DAYS),
    extensions: [
      { name: 'basicConstraints', cA: true, critical: true },
      { name: 'keyUsage', keyCertSign: true, cRLSign: true, digitalSignature: true, critical: true },
    ],
  });
  return { cert: result.cert, key: result.private };
}

async function createServerCertificate(ca: { cert: string; key: string }): Promise<{ cert: string; key: string }> {
  const result = await generate([{ name: 'commonName', value: '127.0.0.1' }], {
    keySize: 2048,
    algorithm: 'sha256',
    notAfterDate: daysFromNow(SERVER_DAYS),
    ca,
    extensions: [
      { name: 'basicConstraints', cA: false },
      { name: 'keyUsage', digitalSignature: true, keyEncipherment: true },
      { name: 'extKeyUsage', serverAuth: true },
      {
        name: 'subjectAltName',
        // Node's TLS checks an IP host only against IP SAN entries, hence type 7 for the loopback addresses.
        altNames: [
          { type: 7, ip: '127.0.0.1' },
          { type: 7, ip: '::1' },
          { type: 2, value: 'localhost' },
        ],
      },
    ],
  });
  return { cert: result.cert, key: result.private };
}

/**
 * Loads the CA and server certificate from `{home}/tls`, creating what is missing or about to expire.
 * The CA survives restarts, so clients and staging VMs that trusted it keep working.
 */
export async function loadOrCreateCertificate(home: string): Promise<EmulatorCertificate> {
  const dir = join(home, 'tls');
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const paths = {
    caCert: join(dir, 'ca.pem'),
    caKey: join(dir, 'ca-key.pem'),
    cert: join(dir, 'server.pem'),
    key: join(dir, 'server-key.pem'),
  };

  let caCert = await readIfExists(paths.caCert);
  let caKey = await readIfExists(paths.caKey);
  if (!caCert || !caKey || !validFor(caCert)) {
    const ca = await createCa();
    caCert = ca.cert;
    caKey = ca.key;
    await writeAtomic(paths.caKey, caKey, 0o600);
    await writeAtomic(paths.caCert, caCert, 0o644);
  }

  let cert = await readIfExists(paths.cert);
  let key = await readIfExists(paths.key);
  if (!cert || !key || !validFor(cert, caCert)) {
    const server = await createServerCertificate({ cert: caCert, key: caKey });
    cert = server.cert;
    key = server.key;
    await writeAtomic(paths.key, key, 0o600);
    await writeAtomic(paths.cert, cert, 0o644);
  }

  return { caPem: caCert, certPem: cert, keyPem: key, caCertPath: paths.caCert };
}
