/** Status monitors (Azure-AsyncOperation) and operation results (Location) for every long-running operation. */
import type { HandlerContext } from '../context.ts';
import { FAIL_EFFECT } from '../context.ts';
import { errors } from '../errors.ts';
import type { ArmRequest } from '../http.ts';
import { monitorBody, operationResult, type Operation } from '../lro.ts';
import type { Route } from '../routes.ts';

export function operationRoutes(ctx: HandlerContext): Route[] {
  const { ops, resources } = ctx;

  ctx.ops.registerEffect(FAIL_EFFECT, (args) => {
    if (typeof args.resourceId === 'string') {
      const resource = resources.find(args.resourceId);
      if (resource) {
        resource.properties.provisioningState = 'Failed';
        resources.save(resource);
      }
    }
    return { fail: { code: String(args.code), message: String(args.message) } };
  });

  const find = (req: ArmRequest): Operation => {
    const op = ops.get(req.params.op!);
    if (!op || op.subscriptionId.toLowerCase() !== req.params.sub!.toLowerCase()) {
      throw errors.operationNotFound(req.params.op!);
    }
    return op;
  };
  const monitorOrResult = (req: ArmRequest) => {
    const op = find(req);
    return req.query.get('monitor') === 'true' ? operationResult(op) : { status: 200, body: monitorBody(op) };
  };

  return [
    { method: 'GET', pattern: '/subscriptions/{sub}/providers/Microsoft.Compute/locations/{loc}/operations/{op}', operation: 'operations.get', api: 'compute', handler: monitorOrResult },
    { method: 'GET', pattern: '/subscriptions/{sub}/providers/Microsoft.Compute/locations/{loc}/capsOperations/{op}', operation: 'operations.get', api: 'gallery', handler: monitorOrResult },
    { method: 'GET', pattern: '/subscriptions/{sub}/providers/Microsoft.Network/locations/{loc}/operations/{op}', operation: 'operations.get', api: 'network', handler: monitorOrResult },
    // Resource-group delete polls: 202 while running, 200 when done (never 204, which the SDK rejects).
    { method: 'GET', pattern: '/subscriptions/{sub}/operationresults/{op}', operation: 'operations.get', api: 'resources', handler: (req) => operationResult(find(req)) },
  ];
}
