/**
 * Event Grid system topics and their event subscriptions, as a deployment hook meets them: create/get a topic;
 * create/get a webhook subscription (a long-running PUT) and read its full endpoint URL. As on Azure, a webhook is
 * validated when the subscription is created: here, a Functions blob webhook must carry the site's current
 * `blobs_extension` key, otherwise the handshake fails (400 `Url validation`).
 */
import { beginOperation, stepAfter, withContext, type HandlerContext } from '../context.ts';
import { errors } from '../errors.ts';
import type { ArmRequest, ArmResponse } from '../http.ts';
import { acceptedWrite } from '../lro.ts';
import { present, providerId, type StoredResource } from '../resources.ts';
import type { Route } from '../routes.ts';
import { bodyObject, objectAt, requiredLocation, stringAt, tagsOf } from '../validate.ts';
import { blobsExtensionKey } from './webApps.ts';

const TOPIC_TYPE = 'Microsoft.EventGrid/systemTopics';
const SUBSCRIPTION_TYPE = 'Microsoft.EventGrid/systemTopics/eventSubscriptions';
const TOPIC = '/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.EventGrid/systemTopics/{topic}';
const SUBSCRIPTION = `${TOPIC}/eventSubscriptions/{name}`;
const READY_EFFECT = 'eventSubscription.ready';

/** The endpoint must answer Event Grid's validation: https, and for a Functions blob webhook the current key. */
function validateWebhook(ctx: HandlerContext, endpointUrl: string): void {
  let url: URL;
  try {
    url = new URL(endpointUrl);
  } catch {
    throw errors.invalidRequest(`The attribute 'endpointUrl' is not a valid absolute URI: '${endpointUrl.split('?')[0]}'.`);
  }
  const shown = `${url.origin}${url.pathname}`;
  if (url.protocol !== 'https:') throw errors.invalidRequest(`The attribute 'endpointUrl' must use https: '${shown}'.`);
  const site = /^([^.]+)\.azurewebsites\.net$/i.exec(url.hostname)?.[1];
  if (site && url.pathname === '/runtime/webhooks/blobs') {
    const key = blobsExtensionKey(ctx, site);
    if (!url.searchParams.get('code') || url.searchParams.get('code') !== key) throw errors.webhookValidationFailed(shown, 'Unauthorized');
  }
}

function topicOf(req: ArmRequest): { sub: string; rg: string; topic: string; id: string } {
  const { sub, rg, topic } = req.params as { sub: string; rg: string; topic: string };
  return { sub, rg, topic, id: providerId(sub, rg, 'Microsoft.EventGrid', 'systemTopics', topic) };
}

function subscriptionOf(req: ArmRequest): { sub: string; rg: string; topicId: string; name: string; id: string } {
  const topic = topicOf(req);
  return { ...topic, topicId: topic.id, name: req.params.name!, id: `${topic.id}/eventSubscriptions/${req.params.name}` };
}

/** The wire form: the endpoint's query string (its key) is never returned, only `endpointBaseUrl`. */
function presentSubscription(stored: StoredResource): Record<string, unknown> {
  const destination = stored.properties.destination as { endpointType: string; properties: { endpointUrl: string } };
  const base = destination.properties.endpointUrl.split('?')[0];
  return present(stored, { ...stored.properties, destination: { endpointType: destination.endpointType, properties: { endpointBaseUrl: base } } });
}

export function createOrUpdateSystemTopic(ctx: HandlerContext, req: ArmRequest): ArmResponse {
  const { sub, rg, topic, id } = topicOf(req);
  ctx.resources.requireGroup(sub, rg);
  const body = bodyObject(req.body);
  const properties = objectAt(body, 'properties') ?? {};
  const existing = ctx.resources.find(id);
  const stored = existing ?? ctx.resources.create({ id, name: topic, type: TOPIC_TYPE, resourceGroup: rg, location: requiredLocation(body), properties: {} });
  stored.properties = { source: stringAt(properties, 'source', 'properties.source'), topicType: stringAt(properties, 'topicType', 'properties.topicType'), provisioningState: 'Succeeded' };
  stored.tags = tagsOf(body) ?? stored.tags;
  ctx.resources.save(stored);
  return { status: existing ? 200 : 201, body: present(stored) };
}

export function getSystemTopic(ctx: HandlerContext, req: ArmRequest): ArmResponse {
  const { sub, rg, topic, id } = topicOf(req);
  return { status: 200, body: present(ctx.resources.require(sub, rg, id, TOPIC_TYPE, topic)) };
}

export function createOrUpdateEventSubscription(ctx: HandlerContext, req: ArmRequest): ArmResponse {
  const { sub, rg, topicId, name, id } = subscriptionOf(req);
  const topic = ctx.resources.requireParent(sub, rg, topicId);
  const properties = objectAt(bodyObject(req.body), 'properties');
  if (!properties) throw errors.invalidRequest("The request body must have a 'properties' object.");
  const destination = objectAt(properties, 'destination', 'properties.destination');
  if (destination?.endpointType !== 'WebHook') throw errors.invalidRequest(`properties.destination.endpointType must be 'WebHook' here; found '${String(destination?.endpointType)}'.`);
  const endpointUrl = stringAt(objectAt(destination, 'properties', 'properties.destination.properties') ?? {}, 'endpointUrl', 'properties.destination.properties.endpointUrl');
  if (!endpointUrl) throw errors.invalidRequest("The attribute 'endpointUrl' is required for a WebHook destination.");
  validateWebhook(ctx, endpointUrl);
  const existing = ctx.resources.find(id);
  const stored = existing ?? ctx.resources.create({ id, name, type: SUBSCRIPTION_TYPE, resourceGroup: rg, properties: {}, tracked: false });
  stored.properties = {
    topic: topic.properties.source,
    destination: { endpointType: 'WebHook', properties: { endpointUrl } },
    filter: properties.filter ?? {},
    eventDeliverySchema: properties.eventDeliverySchema ?? 'EventGridSchema',
    provisioningState: 'Creating',
  };
  ctx.resources.save(stored);
  const op = beginOperation(ctx, req, { resourceId: id, location: topic.location ?? 'global', style: 'network', markFailedOnFault: true, steps: [stepAfter(ctx, 'eventSubscriptionCreate', { kind: READY_EFFECT, args: { id } })] });
  return acceptedWrite(req.origin, op, !existing, presentSubscription(stored));
}

export function getEventSubscription(ctx: HandlerContext, req: ArmRequest): ArmResponse {
  const { sub, rg, id, name } = subscriptionOf(req);
  return { status: 200, body: presentSubscription(ctx.resources.require(sub, rg, id, SUBSCRIPTION_TYPE, name)) };
}

export function getEventSubscriptionFullUrl(ctx: HandlerContext, req: ArmRequest): ArmResponse {
  const { sub, rg, id, name } = subscriptionOf(req);
  const stored = ctx.resources.require(sub, rg, id, SUBSCRIPTION_TYPE, name);
  return { status: 200, body: { endpointUrl: (stored.properties.destination as { properties: { endpointUrl: string } }).properties.endpointUrl } };
}

/** The effect a subscription's create applies when its time comes (also after an emulator restart). */
export function registerEventGridEffects(ctx: HandlerContext): void {
  ctx.ops.registerEffect(READY_EFFECT, (args) => {
    const stored = ctx.resources.find(String(args.id));
    if (stored) ctx.resources.save({ ...stored, properties: { ...stored.properties, provisioningState: 'Succeeded' } });
  });
}

/** The route table: each operation's function, given the context. */
export function eventGridRoutes(ctx: HandlerContext): Route[] {
  registerEventGridEffects(ctx);
  const on = withContext(ctx);
  return [
    { method: 'PUT', pattern: TOPIC, operation: 'systemTopics.createOrUpdate', api: 'eventGrid', handler: on(createOrUpdateSystemTopic) },
    { method: 'GET', pattern: TOPIC, operation: 'systemTopics.get', api: 'eventGrid', handler: on(getSystemTopic) },
    { method: 'PUT', pattern: SUBSCRIPTION, operation: 'systemTopicEventSubscriptions.createOrUpdate', api: 'eventGrid', handler: on(createOrUpdateEventSubscription) },
    { method: 'GET', pattern: SUBSCRIPTION, operation: 'systemTopicEventSubscriptions.get', api: 'eventGrid', handler: on(getEventSubscription) },
    { method: 'POST', pattern: `${SUBSCRIPTION}/getFullUrl`, operation: 'systemTopicEventSubscriptions.getFullUrl', api: 'eventGrid', handler: on(getEventSubscriptionFullUrl) },
  ];
}
