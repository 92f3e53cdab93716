/**
 * Function apps (Microsoft.Web/sites), as far as a deployment hook meets them: create/get a site and list its host
 * keys. The `blobs_extension` system key exists only once the runtime has loaded a blob trigger: here, once the
 * site's `functionAppTriggersLoad` latency has passed after its creation (immediately at the `zero` profile).
 */
import { randomBytes } from 'node:crypto';
import { withContext, type HandlerContext } from '../context.ts';
import type { ArmRequest, ArmResponse } from '../http.ts';
import { present, providerId, type StoredResource } from '../resources.ts';
import type { Route } from '../routes.ts';
import { bodyObject, requiredLocation, tagsOf } from '../validate.ts';

const TYPE = 'Microsoft.Web/sites';
const SITE = '/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.Web/sites/{site}';

const newKey = () => randomBytes(30).toString('base64url');

function siteId(req: ArmRequest): { id: string; sub: string; rg: string; site: string } {
  const { sub, rg, site } = req.params as { sub: string; rg: string; site: string };
  return { id: providerId(sub, rg, 'Microsoft.Web', 'sites', site), sub, rg, site };
}

function presentSite(site: StoredResource): Record<string, unknown> {
  return present(site, { ...site.properties, state: 'Running', defaultHostName: `${site.name}.azurewebsites.net` });
}

export function createOrUpdateWebApp(ctx: HandlerContext, req: ArmRequest): ArmResponse {
  const { id, sub, rg, site } = siteId(req);
  ctx.resources.requireGroup(sub, rg);
  const body = bodyObject(req.body);
  const existing = ctx.resources.find(id);
  const stored = existing ?? ctx.resources.create({ id, name: site, type: TYPE, resourceGroup: rg, location: requiredLocation(body), properties: {} });
  stored.properties = { kind: body.kind ?? 'functionapp', ...(bodyObject(body.properties ?? {})) };
  stored.tags = tagsOf(body) ?? stored.tags;
  stored.state = {
    masterKey: stored.state.masterKey ?? newKey(),
    functionKey: stored.state.functionKey ?? newKey(),
    blobsExtensionKey: stored.state.blobsExtensionKey ?? newKey(),
    triggersLoadedAt: Date.now() + ctx.latency.durationMs('functionAppTriggersLoad'),
  };
  ctx.resources.save(stored);
  return { status: existing ? 200 : 201, body: presentSite(stored) };
}

export function getWebApp(ctx: HandlerContext, req: ArmRequest): ArmResponse {
  const { id, sub, rg, site } = siteId(req);
  return { status: 200, body: presentSite(ctx.resources.require(sub, rg, id, TYPE, site)) };
}

export function listWebAppHostKeys(ctx: HandlerContext, req: ArmRequest): ArmResponse {
  const { id, sub, rg, site } = siteId(req);
  const stored = ctx.resources.require(sub, rg, id, TYPE, site);
  const loaded = Date.now() >= Number(stored.state.triggersLoadedAt);
  return {
    status: 200,
    body: {
      masterKey: stored.state.masterKey,
      functionKeys: { default: stored.state.functionKey },
      systemKeys: loaded ? { blobs_extension: stored.state.blobsExtensionKey } : {},
    },
  };
}

/** The route table: each operation's function, given the context. */
export function webAppRoutes(ctx: HandlerContext): Route[] {
  const on = withContext(ctx);
  return [
    { method: 'PUT', pattern: SITE, operation: 'webApps.createOrUpdate', api: 'web', handler: on(createOrUpdateWebApp) },
    { method: 'GET', pattern: SITE, operation: 'webApps.get', api: 'web', handler: on(getWebApp) },
    { method: 'POST', pattern: `${SITE}/host/default/listKeys`, operation: 'webApps.listHostKeys', api: 'web', handler: on(listWebAppHostKeys) },
  ];
}

/** The blobs extension key of a site, for checks that an Event Grid webhook carries the right code. */
export function blobsExtensionKey(ctx: HandlerContext, siteName: string): string | undefined {
  const site = ctx.resources.store.list<StoredResource>('resource', '').find((r) => r.type === TYPE && r.name.toLowerCase() === siteName.toLowerCase());
  return site && Date.now() >= Number(site.state.triggersLoadedAt) ? String(site.state.blobsExtensionKey) : undefined;
}
