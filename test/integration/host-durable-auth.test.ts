/**
 * Every durable route of the local host is closed as on Azure: the management webhooks need the system or admin key
 * (no key, a wrong one and the function key are refused), the client's RPC routes need the binding's secret token,
 * and the DurableClient the app gets through its binding still does everything.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDurableHost, type DurableTestHost } from './durable-helpers.ts';

let t: DurableTestHost;

beforeAll(async () => {
  t = await startDurableHost();
});

afterAll(async () => {
  await t?.close();
});

/** Every route the engine serves, relative to its prefix; `gated` is a waiting instance the refused calls must not touch. */
const gated = 'auth-gated';
const routes: [method: string, path: string][] = [
  ['POST', 'orchestrators/Approval'],
  ['POST', 'orchestrators/Approval/auth-new'],
  ['GET', 'instances'],
  ['GET', 'instances?showInput=true'],
  ['DELETE', 'instances?runtimeStatus=Running'],
  ['GET', `instances/${gated}`],
  ['GET', `instances/${gated}?showHistory=true&showHistoryOutput=true`],
  ['DELETE', `instances/${gated}`],
  ['POST', `instances/${gated}/raiseEvent/approve`],
  ['POST', `instances/${gated}/terminate?reason=x`],
  ['POST', `instances/${gated}/suspend?reason=x`],
  ['POST', `instances/${gated}/resume?reason=x`],
  ['POST', `instances/${gated}/rewind?reason=x`],
  ['POST', 'entities/Counter/auth?op=add'],
  ['GET', 'entities/Counter/auth'],
  ['GET', 'no-such-route'],
];

const counts = { tried: 0, refused: 0 };

async function call(url: string, method: string, headers: Record<string, string> = {}): Promise<number> {
  const response = await fetch(url, { method, headers, body: method === 'POST' ? '1' : undefined });
  await response.arrayBuffer();
  counts.tried++;
  if (response.status === 401) counts.refused++;
  return response.status;
}

describe('local host: durable routes need a key', () => {
  it('refuses every management webhook without a key, with a wrong key and with the function key', async () => {
    await t.client.startNew('Approval', { instanceId: gated });
    await t.waitFor(gated, (s) => s.runtimeStatus === 'Running');
    const base = `${t.host.url}/runtime/webhooks/durabletask`;
    const { function: functionKey, admin, system } = t.host.keys;
    for (const [method, path] of routes) {
      const url = `${base}/${path}`;
      const join = url.includes('?') ? '&' : '?';
      expect(await call(url, method), `${method} ${path} without a key`).toBe(401);
      expect(await call(`${url}${join}code=wrong-${system}`, method), `${method} ${path} with a wrong key`).toBe(401);
      expect(await call(`${url}${join}code=${functionKey}`, method), `${method} ${path} with the function key`).toBe(401);
      expect(await call(url, method, { 'x-functions-key': functionKey }), `${method} ${path} with the function key header`).toBe(401);
      expect(await call(url, method, { 'x-functions-key': system.slice(0, -1) }), `${method} ${path} with a truncated key`).toBe(401);
    }
    // Nothing the refused calls asked for happened.
    const status = await t.client.getStatus(gated);
    expect(status.runtimeStatus).toBe('Running');
    expect(await t.client.getStatus('auth-new').catch(() => undefined)).toBeUndefined();
    const read = await fetch(`${base}/instances/${gated}?code=${system}`);
    expect(read.status).toBe(202);
    const byAdmin = await fetch(`${base}/instances/${gated}`, { headers: { 'x-functions-key': admin } });
    expect(byAdmin.status).toBe(202);
    expect(await byAdmin.json()).toMatchObject({ instanceId: gated, runtimeStatus: 'Running' });
  });

  it("refuses the client's RPC routes without the binding's token, even with the admin key", async () => {
    const { admin, system } = t.host.keys;
    for (const [method, path] of routes) {
      for (const prefix of ['', 'not-the-token/', `${system}/`]) {
        const url = `${t.host.url}/durabletask/${prefix}${path}`;
        expect(await call(url, method), `${method} /durabletask/${prefix}${path}`).toBe(401);
        expect(await call(url, method, { 'x-functions-key': admin }), `${method} /durabletask/${prefix}${path} with the admin key`).toBe(401);
      }
    }
    expect((await t.client.getStatus(gated)).runtimeStatus).toBe('Running');
  });

  it('hands the DurableClient binding what it needs: start, read, raise, terminate and purge still work', async () => {
    const input = t.host.engine.clientInput(t.host.url);
    expect(input.requiredQueryStringParameters).toBe(`code=${t.host.keys.system}`);
    expect(String(input.rpcBaseUrl)).not.toContain(t.host.keys.system);
    const id = await t.client.startNew('Approval', { instanceId: 'auth-client' });
    await t.waitFor(id, (s) => s.runtimeStatus === 'Running');
    await t.client.raiseEvent(id, 'approve', true);
    await t.waitFor(id);
    const links = t.client.createHttpManagementPayload(id);
    expect(links.statusQueryGetUri).toContain(`code=${t.host.keys.system}`);
    expect((await fetch(links.statusQueryGetUri)).status).toBe(200);
    await t.client.terminate(gated, 'test over');
    expect((await t.waitFor(gated)).runtimeStatus).toBe('Terminated');
    expect((await t.client.purgeInstanceHistory(gated)).instancesDeleted).toBe(1);
    if (process.env.KILN_AUTH_STATS) console.log(`durable routes: ${counts.tried} calls tried, ${counts.refused} refused`);
    expect(counts.refused).toBe(counts.tried);
  });
});
