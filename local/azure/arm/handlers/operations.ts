/** Status monitors (Azure-AsyncOperation) and operation results (Location) for every long-running operation. */
import { FAIL_EFFECT, withContext, type HandlerContext } from '../context.ts';
import { errors } from '../errors.ts';
import type { ArmRequest, ArmResponse } from '../http.ts';
import { monitorBody, operationResult, type Operation } from '../lro.ts';
import type { Route } from '../routes.ts';

/** The operation a monitor URL names, if it belongs to the subscription asking. */
function findOperation(ctx: HandlerContext, req: ArmRequest): Operation {
  const op = ctx.ops.get(req.params.op!);
  if (!op || op.subscriptionId.toLowerCase() !== req.params.sub!.toLowerCase()) {
    throw errors.operationNotFound(req.params.op!);
  }
  return op;
}

/** Azure-AsyncOperation status, or with `monitor=true` the Location-style result. */
export function getOperationStatus(ctx: HandlerContext, req: ArmRequest): ArmResponse {
  const op = findOperation(ctx, req);
  return req.query.get('monitor') === 'true' ? operationResult(op) : { status: 200, body: monitorBody(op) };
}

/** Resource-group delete polls: 202 while running, 200 when done (never 204, which the SDK rejects). */
export const getOperationResult = (ctx: HandlerContext, req: ArmRequest): ArmResponse => operationResult(findOperation(ctx, req));

/** The effect an injected LRO failure applies: the operation fails, and the resource it was writing says Failed. */
export function registerOperationEffects(ctx: HandlerContext): void {
  ctx.ops.registerEffect(FAIL_EFFECT, (args) => {
    if (typeof args.resourceId === 'string') {
      const resource = ctx.resources.find(args.resourceId);
      if (resource) {
        resource.properties.provisioningState = 'Failed';
        ctx.resources.save(resource);
      }
    }
    return { fail: { code: String(args.code), message: String(args.message) } };
  });
}

/** The route table: each operation's function, given the context. */
export function operationRoutes(ctx: HandlerContext): Route[] {
  registerOperationEffects(ctx);
  const on = withContext(ctx);
  return [
    { method: 'GET', pattern: '/subscriptions/{sub}/providers/Microsoft.Compute/locations/{loc}/operations/{op}', operation: 'operations.get', api: 'compute', handler: on(getOperationStatus) },
    { method: 'GET', pattern: '/subscriptions/{sub}/providers/Microsoft.Compute/locations/{loc}/capsOperations/{op}', operation: 'operations.get', api: 'gallery', handler: on(getOperationStatus) },
    { method: 'GET', pattern: '/subscriptions/{sub}/providers/Microsoft.Network/locations/{loc}/operations/{op}', operation: 'operations.get', api: 'network', handler: on(getOperationStatus) },
    { method: 'GET', pattern: '/subscriptions/{sub}/operationresults/{op}', operation: 'operations.get', api: 'resources', handler: on(getOperationResult) },
  ];
}
