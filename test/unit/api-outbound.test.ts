/** Webhook targets: link-local and metadata addresses never, private ones only when allowed, checked after DNS. */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postJson, RefusedTarget } from '../../src/api/outbound.ts';
import { addressKind, namesForbiddenAddress } from '../../src/template/addresses.ts';

let server: Server;
let port: number;
let received = 0;

beforeAll(async () => {
  server = createServer((req, res) => {
    received++;
    req.resume();
    res.writeHead(204).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
});

afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

const post = (url: string, allowPrivate: boolean) =>
  postJson(url, '{}', { headers: { 'content-type': 'application/json' }, timeoutMs: 2_000, allowPrivate });

describe('addresses', () => {
  it.each([
    ['169.254.169.254', 'link-local or metadata'],
    ['169.254.0.1', 'link-local or metadata'],
    ['168.63.129.16', 'link-local or metadata'],
    ['0.0.0.0', 'link-local or metadata'],
    ['fe80::1', 'link-local or metadata'],
    ['::ffff:a9fe:a9fe', 'link-local or metadata'],
    ['fd00:ec2::254', 'link-local or metadata'],
    ['10.1.2.3', 'private'],
    ['172.31.255.255', 'private'],
    ['192.168.0.1', 'private'],
    ['127.0.0.1', 'private'],
    ['::1', 'private'],
    ['fd12::1', 'private'],
    ['172.32.0.1', 'public'],
    ['20.50.1.1', 'public'],
    ['2001:db8::1', 'public'],
  ])('%s is %s', (ip, kind) => {
    expect(addressKind(ip)).toBe(kind);
  });

  it('spots a metadata address in any notation a URL accepts', () => {
    for (const url of ['https://169.254.169.254/', 'http://2852039166/x', 'https://0xa9.0376.169.254/', 'https://[::ffff:169.254.169.254]/', 'https://[fe80::1]/']) {
      expect(namesForbiddenAddress(url), url).toBe(true);
    }
    expect(namesForbiddenAddress('https://example.com/')).toBe(false);
    expect(namesForbiddenAddress('https://10.0.0.1/')).toBe(false);
  });
});

describe('postJson', () => {
  it('delivers to a private address only when allowed, also when a name resolves to it', async () => {
    expect(await post(`http://127.0.0.1:${port}/hook`, true)).toBe(204);
    expect(await post(`http://localhost:${port}/hook`, true)).toBe(204);
    const before = received;
    await expect(post(`http://127.0.0.1:${port}/hook`, false)).rejects.toThrow(RefusedTarget);
    await expect(post(`http://localhost:${port}/hook`, false)).rejects.toThrow(/localhost resolves to .* private address/);
    expect(received).toBe(before);
  });

  it('never connects to a link-local or metadata address, allowed private or not', async () => {
    for (const url of ['http://169.254.169.254/metadata', 'http://2852039166/', 'http://[::ffff:a9fe:a9fe]/', 'http://0.0.0.0:1/']) {
      await expect(post(url, true), url).rejects.toThrow(/link-local or metadata/);
    }
  });
});

describe('templates', () => {
  it('refuse webhooks and downloads on link-local or metadata addresses', async () => {
    const { readFile } = await import('node:fs/promises');
    const { parseTemplate } = await import('../../src/template/index.ts');
    const template = JSON.parse(await readFile('examples/ubuntu-web.json', 'utf8')) as { properties: Record<string, unknown> & { customize: Record<string, unknown>[] } };
    template.properties.notify = { webhooks: ['https://169.254.169.254/latest', 'http://[::ffff:a9fe:a9fe]/'] };
    template.properties.customize[1]!.sourceUri = 'https://2852039166/robots.txt';
    const parsed = parseTemplate(template);
    expect(parsed.ok).toBe(false);
    const errors = parsed.ok ? [] : parsed.errors;
    const refused = errors.filter((e) => e.message.includes('link-local or metadata')).map((e) => e.path);
    expect(refused).toEqual(expect.arrayContaining(['properties.customize[1].sourceUri', 'properties.notify.webhooks[0]', 'properties.notify.webhooks[1]']));
  });
});
