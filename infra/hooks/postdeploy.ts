/**
 * azd postdeploy hook (POSIX and Windows alike: `npm run --silent hook:postdeploy`): subscribes the templates
 * container's blob-created events to the Function App's blob webhook. It runs after the code is deployed because
 * the `blobs_extension` key exists only once the runtime has loaded the trigger, and Event Grid validates the
 * webhook when the subscription is created.
 *
 * It acts through ARM's REST API with azd's own login (AzureDeveloperCliCredential), in the subscription azd
 * deployed to, so no `az login` or `az account set` is needed. Idempotent: a second run that finds the subscription
 * pointing at the same URL changes nothing. The key is never printed.
 */
import { AzureDeveloperCliCredential } from '@azure/identity';

export interface HookSettings {
  subscriptionId: string;
  resourceGroup: string;
  functionAppName: string;
  functionAppUrl: string;
  systemTopic: string;
  /** ARM endpoint; default https://management.azure.com (the local emulator's in tests). */
  armEndpoint: string;
  getToken: () => Promise<string>;
  log: (line: string) => void;
  /** How long to wait for the blobs_extension key, and the first pause between tries (doubling up to 30 s). */
  keyTimeoutMs: number;
  firstDelayMs: number;
}

const WEB_API = '2024-04-01';
const EVENT_GRID_API = '2025-02-15';
const SUBSCRIPTION_NAME = 'templates-created';
const BLOB_TRIGGER_FUNCTION = 'templateDropped';
const FILTER = {
  includedEventTypes: ['Microsoft.Storage.BlobCreated'],
  subjectBeginsWith: '/blobServices/default/containers/templates/',
};

const REQUIRED_ENV = {
  subscriptionId: 'AZURE_SUBSCRIPTION_ID',
  resourceGroup: 'RESOURCE_GROUP',
  functionAppName: 'AZURE_FUNCTION_APP_NAME',
  functionAppUrl: 'AZURE_FUNCTION_APP_URL',
  systemTopic: 'TEMPLATES_EVENT_GRID_TOPIC',
} as const;

/** Settings from azd's environment (azd passes its values to hooks as environment variables). */
export function settingsFromEnv(env: NodeJS.ProcessEnv): Omit<HookSettings, 'getToken' | 'log' | 'keyTimeoutMs' | 'firstDelayMs'> {
  const missing = Object.values(REQUIRED_ENV).filter((name) => !env[name]);
  if (missing.length) {
    throw new Error(`postdeploy: missing ${missing.join(', ')} in the environment (run it through azd, or export the deployment outputs)`);
  }
  const pick = (key: keyof typeof REQUIRED_ENV) => env[REQUIRED_ENV[key]]!;
  return {
    subscriptionId: pick('subscriptionId'),
    resourceGroup: pick('resourceGroup'),
    functionAppName: pick('functionAppName'),
    functionAppUrl: pick('functionAppUrl').replace(/\/+$/, ''),
    systemTopic: pick('systemTopic'),
    armEndpoint: (env.AZURE_RESOURCE_MANAGER_ENDPOINT ?? 'https://management.azure.com').replace(/\/+$/, ''),
  };
}

class ArmCallError extends Error {
  readonly status: number;
  constructor(status: number, message: string) {
    super(message);
    this.status = status;
  }
}

async function arm(settings: HookSettings, method: string, path: string, body?: unknown): Promise<{ status: number; json: Record<string, unknown>; headers: Headers }> {
  const response = await fetch(`${settings.armEndpoint}${path}`, {
    method,
    headers: { authorization: `Bearer ${await settings.getToken()}`, 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await response.text();
  const json = (text ? JSON.parse(text) : {}) as Record<string, unknown>;
  if (response.status >= 400 && response.status !== 404) {
    const error = (json.error ?? {}) as { code?: string; message?: string };
    throw new ArmCallError(response.status, `${method} ${path.split('?')[0]}: ${response.status} ${error.code ?? ''} ${error.message ?? text}`.trim());
  }
  return { status: response.status, json, headers: response.headers };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const masked = (url: string) => url.replace(/code=[^&]+/, 'code=***');

/** Lists the host keys until the blobs extension's key exists (the runtime creates it when it loads the trigger). */
async function blobsExtensionKey(settings: HookSettings, sitePath: string): Promise<string> {
  const deadline = Date.now() + settings.keyTimeoutMs;
  for (let delay = settings.firstDelayMs, attempt = 1; ; attempt++, delay = Math.min(delay * 2, 30_000)) {
    try {
      const { status, json } = await arm(settings, 'POST', `${sitePath}/host/default/listKeys?api-version=${WEB_API}`);
      const key = status === 200 ? (json.systemKeys as Record<string, string> | undefined)?.blobs_extension : undefined;
      if (key) return key;
      settings.log(`postdeploy: blobs_extension key not there yet (attempt ${attempt}${status === 404 ? ', app not found yet' : ''})`);
    } catch (error) {
      // A freshly deployed app restarts: 409/5xx answers are part of waiting, anything else is a real error.
      if (!(error instanceof ArmCallError) || (error.status !== 409 && error.status < 500)) throw error;
      settings.log(`postdeploy: host keys not readable yet (${error.message})`);
    }
    if (Date.now() + delay > deadline) {
      throw new Error(`postdeploy: the blobs_extension key of ${settings.functionAppName} did not appear within ${Math.round(settings.keyTimeoutMs / 1000)} s; is the templateDropped function deployed and running?`);
    }
    await sleep(delay);
  }
}

/** Polls an Azure-AsyncOperation monitor to its end. */
async function waitForOperation(settings: HookSettings, monitor: string): Promise<void> {
  const path = monitor.startsWith(settings.armEndpoint) ? monitor.slice(settings.armEndpoint.length) : new URL(monitor).pathname + new URL(monitor).search;
  for (let delay = settings.firstDelayMs; ; delay = Math.min(delay * 2, 10_000)) {
    const { json } = await arm(settings, 'GET', path);
    if (json.status === 'Succeeded') return;
    if (json.status === 'Failed' || json.status === 'Canceled') throw new Error(`postdeploy: creating the event subscription ${String(json.status)}: ${JSON.stringify(json.error ?? {})}`);
    await sleep(delay);
  }
}

export type HookResult = 'created' | 'updated' | 'unchanged';

export async function subscribeTemplatesContainer(settings: HookSettings): Promise<HookResult> {
  const group = `/subscriptions/${settings.subscriptionId}/resourceGroups/${settings.resourceGroup}`;
  const sitePath = `${group}/providers/Microsoft.Web/sites/${settings.functionAppName}`;
  const subscriptionPath = `${group}/providers/Microsoft.EventGrid/systemTopics/${settings.systemTopic}/eventSubscriptions/${SUBSCRIPTION_NAME}`;
  settings.log(`postdeploy: subscription ${settings.subscriptionId}, function app ${settings.functionAppName}`);

  const key = await blobsExtensionKey(settings, sitePath);
  const endpointUrl = `${settings.functionAppUrl}/runtime/webhooks/blobs?functionName=Host.Functions.${BLOB_TRIGGER_FUNCTION}&code=${encodeURIComponent(key)}`;

  const existing = await arm(settings, 'GET', `${subscriptionPath}?api-version=${EVENT_GRID_API}`);
  if (existing.status === 200) {
    const current = await arm(settings, 'POST', `${subscriptionPath}/getFullUrl?api-version=${EVENT_GRID_API}`);
    const properties = existing.json.properties as { filter?: typeof FILTER; provisioningState?: string };
    const sameFilter = JSON.stringify(properties.filter?.includedEventTypes) === JSON.stringify(FILTER.includedEventTypes) && properties.filter?.subjectBeginsWith === FILTER.subjectBeginsWith;
    if (current.json.endpointUrl === endpointUrl && sameFilter && properties.provisioningState === 'Succeeded') {
      settings.log(`postdeploy: event subscription ${SUBSCRIPTION_NAME} already points at ${masked(endpointUrl)}; nothing to do`);
      return 'unchanged';
    }
  }

  settings.log(`postdeploy: ${existing.status === 200 ? 'updating' : 'creating'} event subscription ${SUBSCRIPTION_NAME} → ${masked(endpointUrl)}`);
  const put = await arm(settings, 'PUT', `${subscriptionPath}?api-version=${EVENT_GRID_API}`, {
    properties: { destination: { endpointType: 'WebHook', properties: { endpointUrl } }, filter: FILTER, eventDeliverySchema: 'EventGridSchema' },
  });
  const monitor = put.headers.get('azure-asyncoperation');
  if (monitor) await waitForOperation(settings, monitor);
  settings.log(`postdeploy: event subscription ${SUBSCRIPTION_NAME} ready`);
  return existing.status === 200 ? 'updated' : 'created';
}

if (process.argv[1] && process.argv[1].endsWith('postdeploy.ts')) {
  const credential = new AzureDeveloperCliCredential();
  // ARM_ACCESS_TOKEN: a pipeline that already holds an ARM token (and the tests, against the local emulator).
  const given = process.env.ARM_ACCESS_TOKEN;
  try {
    await subscribeTemplatesContainer({
      ...settingsFromEnv(process.env),
      getToken: async () => given ?? (await credential.getToken('https://management.azure.com/.default')).token,
      log: (line) => console.log(line),
      keyTimeoutMs: 10 * 60_000,
      firstDelayMs: Number(process.env.KILN_HOOK_FIRST_DELAY_MS ?? 5_000),
    });
  } catch (error) {
    console.error(error instanceof Error ? error.message : String(error));
    process.exitCode = 1;
  }
}
