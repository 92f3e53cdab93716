/** Gallery image version replication: a per-region plan made at create time, and the progress it shows over time. */
import type { Latency } from '../../latency.ts';
import type { StoredResource } from '../resources.ts';

export interface RegionPlan {
  region: string;
  startAt: number;
  endAt: number;
}

export interface ReplicationSummary {
  aggregatedState: 'InProgress' | 'Completed' | 'Failed';
  summary: { region: string; state: 'Replicating' | 'Completed' | 'Failed'; details: string; progress: number }[];
}

/**
 * The source region replicates first; other regions copy in parallel after it (wall time ≈ the slowest region),
 * each extra replica adding a little (as public reports of gallery replication describe; local/azure/README.md).
 */
export function planReplication(latency: Latency, sourceRegion: string, targets: { name: string; regionalReplicaCount?: number }[], now: number): RegionPlan[] {
  const first = latency.durationMs('galleryVersionFirstRegion');
  const extraReplicas = (count = 1) => Math.max(0, count - 1) * latency.durationMs('galleryVersionPerExtraReplica');
  return targets.map((target) => {
    const isSource = target.name === sourceRegion;
    const duration = first + (isSource ? 0 : latency.durationMs('galleryVersionPerExtraRegion')) + extraReplicas(target.regionalReplicaCount);
    return { region: target.name, startAt: now, endAt: now + duration };
  });
}

export function replicationSummary(version: StoredResource, now: number): ReplicationSummary {
  const plan = (version.state.replication ?? []) as RegionPlan[];
  const failed = version.properties.provisioningState === 'Failed';
  const summary = plan.map((p) => {
    const span = Math.max(1, p.endAt - p.startAt);
    const done = now >= p.endAt;
    const progress = done ? 100 : Math.floor((Math.max(0, now - p.startAt) / span) * 100);
    return {
      region: p.region,
      state: failed ? ('Failed' as const) : done ? ('Completed' as const) : ('Replicating' as const),
      details: '',
      progress,
    };
  });
  const aggregatedState = summary.some((s) => s.state === 'Failed') ? 'Failed' : summary.every((s) => s.state === 'Completed') ? 'Completed' : 'InProgress';
  return { aggregatedState, summary };
}
