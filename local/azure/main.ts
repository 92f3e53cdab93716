/** Runs the Azure emulator as its own process: prints one JSON line with its endpoints when ready, stops on SIGTERM/SIGINT. */
import { parseArgs } from 'node:util';
import { startAzureEmulator } from './index.ts';

const { values } = parseArgs({
  options: {
    home: { type: 'string' },
    port: { type: 'string' },
    'key-vault-port': { type: 'string' },
    profile: { type: 'string' },
    scale: { type: 'string' },
    seed: { type: 'string' },
    files: { type: 'string' },
    isolation: { type: 'string' },
  },
});

function numberOption(name: string, raw: string | undefined): number | undefined {
  if (raw === undefined) return undefined;
  const value = Number(raw);
  if (!Number.isFinite(value) || value < 0) throw new Error(`--${name}: expected a number >= 0, found ${JSON.stringify(raw)}`);
  return value;
}

if (!values.home) {
  process.stderr.write('usage: main.ts --home DIR [--port N] [--key-vault-port N] [--profile zero|fast|realistic] [--scale F] [--seed FILE] [--files DIR] [--isolation auto|off]\n');
  process.exit(2);
}
if (values.isolation !== undefined && values.isolation !== 'auto' && values.isolation !== 'off') {
  process.stderr.write(`--isolation: expected auto or off, found ${JSON.stringify(values.isolation)}\n`);
  process.exit(2);
}

const emulator = await startAzureEmulator({
  home: values.home,
  port: numberOption('port', values.port),
  keyVaultPort: numberOption('key-vault-port', values['key-vault-port']),
  profile: values.profile,
  scale: numberOption('scale', values.scale),
  seedFile: values.seed,
  filesDir: values.files,
  isolation: values.isolation as 'auto' | 'off' | undefined,
});
const { armEndpoint, keyVaultUrl, caCertPath, subscriptionId, tenantId, token } = emulator;
process.stdout.write(`${JSON.stringify({ armEndpoint, keyVaultUrl, caCertPath, subscriptionId, tenantId, token })}\n`);

for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.once(signal, () => {
    void emulator.close().then(() => process.exit(0));
  });
}
