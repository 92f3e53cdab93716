/**
 * Deleting resources: the DELETE handler the resource types share, and deleting for good, where what a resource holds
 * on the host (disk, guest, snapshot) is freed with it.
 */
import type { OperationKind } from '../latency.ts';
import { beginOperation, stepAfter, type HandlerContext } from './context.ts';
import { errors } from './errors.ts';
import type { ArmRequest, ArmResponse } from './http.ts';
import { acceptedAction, type MonitorStyle } from './lro.ts';
import type { Resources, StoredResource } from './resources.ts';

/** Whether another resource (a version made from a managed image, say) still reads from the snapshot. */
function snapshotInUse(resources: Resources, snapshot: unknown, exceptId: string): boolean {
  return resources.store.list<StoredResource>('resource').some((r) => r.id !== exceptId && r.state.snapshot === snapshot);
}

async function release(ctx: HandlerContext, resource: StoredResource): Promise<void> {
  if (typeof resource.state.disk === 'string') await ctx.guest.deleteDisk(resource.state.disk);
  if (typeof resource.state.snapshot === 'string' && !snapshotInUse(ctx.resources, resource.state.snapshot, resource.id)) {
    await ctx.guest.deleteSnapshot(resource.state.snapshot);
  }
}

/**
 * Frees what a resource holds and removes it. It is read again after each release: what it came to hold meanwhile (a
 * disk a rebuild gave it) is freed too before it goes. Removed last, so a delete redone after a kill finds it again.
 */
async function releaseAndRemove(ctx: HandlerContext, id: string): Promise<void> {
  let held = ctx.resources.find(id);
  while (held) {
    await release(ctx, held);
    const current = ctx.resources.find(id);
    if (current && (current.state.disk !== held.state.disk || current.state.snapshot !== held.state.snapshot)) {
      held = current;
      continue;
    }
    held = undefined;
  }
  ctx.resources.remove(id);
  ctx.ops.forget(id);
}

/** Removes a resource and everything below it (a group's contents, a VM's run commands), ending their operations. */
export async function deleteTree(ctx: HandlerContext, id: string, keepOperation?: string): Promise<void> {
  for (const op of ctx.ops.running(id)) {
    if (op.id !== keepOperation) ctx.ops.finish(op, { status: 'Canceled', error: errors.resourceDeleted(id) });
  }
  for (const child of ctx.resources.below(id)) await releaseAndRemove(ctx, child.id);
  await releaseAndRemove(ctx, id);
}

/** Registers `kind` as a type's delete effect: the resource and everything below it go, for good. */
export function registerDeleteEffect(ctx: HandlerContext, kind: string): void {
  ctx.ops.registerEffect(kind, (args, op) => deleteTree(ctx, String(args.id), op.id));
}

/**
 * A DELETE handler: 204 when the resource is already gone; otherwise the resource is marked Deleting and an operation
 * `latency` long runs `effect` (the type's registered delete effect) on it. `refuse` may throw to keep the resource.
 */
export function deleteHandler(
  ctx: HandlerContext,
  spec: { idOf: (params: Record<string, string>) => string; style: MonitorStyle; latency: OperationKind; effect: string; refuse?: (resource: StoredResource) => void },
): (req: ArmRequest) => ArmResponse {
  return (req) => {
    ctx.resources.requireGroup(req.params.sub!, req.params.rg!);
    const resource = ctx.resources.find(spec.idOf(req.params));
    if (!resource) return { status: 204 };
    spec.refuse?.(resource);
    resource.properties.provisioningState = 'Deleting';
    ctx.resources.save(resource);
    // A subnet has no location of its own.
    const location = resource.location ?? 'eastus';
    const op = beginOperation(ctx, req, { resourceId: resource.id, location, style: spec.style, steps: [stepAfter(ctx, spec.latency, { kind: spec.effect, args: { id: resource.id } })] });
    return acceptedAction(req.origin, op);
  };
}
