/** The dashboard's handlers: the page's CSP allows exactly its inline loader; files are served from an allow-list only. */

import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { HttpRequest } from '@azure/functions';
import { describe, expect, it } from 'vitest';
import { getDashboardFile, getDashboardPage, nextOccurrence } from '../../src/api/dashboard.ts';

const file = (path: string) => getDashboardFile(new HttpRequest({ method: 'GET', url: `http://127.0.0.1/api/dashboard/files/${path}`, params: { path } }));

describe('dashboard handlers', () => {
  it('serves the page with a CSP naming the hash of its one inline script', async () => {
    const page = await getDashboardPage();
    const headers = page.headers as Record<string, string>;
    const html = String(page.body);
    const inline = /<script type="module">([\s\S]*?)<\/script>/.exec(html)![1]!;
    expect(headers['content-security-policy']).toContain(`script-src blob: 'sha256-${createHash('sha256').update(inline).digest('base64')}'`);
    expect(headers['content-security-policy']).toContain("default-src 'none'");
    expect(headers['cache-control']).toBe('no-store');
    expect(html).toBe(readFileSync('web/index.html', 'utf8'));
  });

  it('serves app modules and vendored libraries (without source-map comments), nothing else', async () => {
    const app = await file('app.js');
    expect(app.status).toBe(200);
    expect((app.headers as Record<string, string>)['content-type']).toBe('text/javascript; charset=utf-8');
    const preact = await file('vendor/preact.mjs');
    expect(preact.status).toBe(200);
    expect(String(preact.body)).not.toContain('sourceMappingURL');
    for (const path of ['../package.json', 'index.html', 'vendor/other.mjs', 'App.js', '.hidden.js', 'missing.js']) {
      expect((await file(path)).status, path).toBe(404);
    }
  });

  it('finds the next occurrence of a 6-field schedule', () => {
    expect(nextOccurrence('0 0 3 * * 0', new Date('2026-12-06T10:00:00Z'))).toBe('2026-12-13T03:00:00.000Z');
  });
});
