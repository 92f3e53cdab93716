/** Deleting resources for good: what a resource holds on the host (disk, guest, snapshot) is freed with it. */
import type { HandlerContext } from './context.ts';
import type { Resources, StoredResource } from './resources.ts';

/** Whether another resource (a version made from a managed image, say) still reads from the snapshot. */
export function snapshotInUse(resources: Resources, snapshot: unknown, exceptId: string): boolean {
  return resources.store.list<StoredResource>('resource').some((r) => r.id !== exceptId && r.state.snapshot === snapshot);
}

async function release(ctx: HandlerContext, resource: StoredResource): Promise<void> {
  if (typeof resource.state.disk === 'string') await ctx.guest.deleteDisk(resource.state.disk);
  if (typeof resource.state.snapshot === 'string' && !snapshotInUse(ctx.resources, resource.state.snapshot, resource.id)) {
    await ctx.guest.deleteSnapshot(resource.state.snapshot);
  }
}

/** Removes a resource and everything below it (a group's contents, a VM's run commands), ending their operations. */
export async function deleteTree(ctx: HandlerContext, id: string, keepOperation?: string): Promise<void> {
  for (const op of ctx.ops.running(id)) {
    if (op.id !== keepOperation) ctx.ops.finish(op, { status: 'Canceled', error: { code: 'OperationCanceled', message: `The resource '${id}' was deleted.` } });
  }
  for (const child of ctx.resources.below(id)) {
    await release(ctx, child);
    ctx.resources.remove(child.id);
  }
  const resource = ctx.resources.find(id);
  if (resource) {
    await release(ctx, resource);
    ctx.resources.remove(id);
  }
}
