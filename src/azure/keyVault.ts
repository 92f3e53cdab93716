/** Resolves Key Vault secret references to values, for use inside one activity only. */

import type { SecretRef } from '../template/spec.ts';
import type { AzureClients } from './clients.ts';
import { KilnStepError, classifyAzureError } from './errors.ts';

/** Reads each named secret; the values must never leave the calling activity. */
export async function resolveSecrets(
  clients: AzureClients,
  refs: Record<string, SecretRef>,
  names: string[],
): Promise<Map<string, string>> {
  const values = new Map<string, string>();
  for (const name of names) {
    const ref = refs[name];
    if (!ref) {
      throw new KilnStepError(`secret ${name}: expected a reference in properties.secrets, found none`, { retryable: false, code: 'SecretNotDeclared' });
    }
    const where = `secret ${name} (vault ${ref.vault}, name ${ref.name}${ref.version ? `, version ${ref.version}` : ''})`;
    try {
      const secret = await clients.secrets(ref.vault).getSecret(ref.name, ref.version ? { version: ref.version } : {});
      if (secret.value === undefined) {
        throw new KilnStepError(`${where}: expected a value, found none`, { retryable: false, code: 'SecretEmpty' });
      }
      values.set(name, secret.value);
    } catch (err) {
      if (err instanceof KilnStepError) throw err;
      const c = classifyAzureError(err);
      // Key Vault's messages name the secret, never its value; keep only the code and status.
      throw new KilnStepError(`${where}: could not be read (${[c.statusCode, c.code].filter(Boolean).join(' ')})`, {
        retryable: c.retryable,
        code: c.code ?? 'SecretUnreadable',
        statusCode: c.statusCode,
      });
    }
  }
  return values;
}

/** Whether Kiln's identity can read a secret: undefined when it can, else why not (status and code, never a value). */
export async function secretUnreadable(clients: AzureClients, ref: SecretRef): Promise<string | undefined> {
  try {
    const secret = await clients.secrets(ref.vault).getSecret(ref.name, ref.version ? { version: ref.version } : {});
    return secret.value === undefined ? 'it has no value' : undefined;
  } catch (err) {
    const c = classifyAzureError(err);
    const status = [c.statusCode, c.code].filter(Boolean).join(' ');
    // Throttling and outages are not the secret's fault: the step is tried again.
    if (c.retryable) throw new KilnStepError(`secret ${ref.name} in vault ${ref.vault} could not be read now (${status})`, { retryable: true, code: c.code ?? 'SecretUnreadable', statusCode: c.statusCode });
    return `Kiln's identity cannot read it (${status})`;
  }
}
