// The emulator's operation timeline (when each operation was due to end, not when a poll saw it) and the critical
// path a benchmark computes from it.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { OperationEngine, type TimelineEntry } from '../../local/azure/arm/lro.ts';
import { openSqliteStore, type ArmStore } from '../../local/azure/arm/store.ts';
import { criticalPath } from '../../local/azure/critical-path.ts';

const opened: { store: ArmStore; dir: string }[] = [];
afterEach(async () => {
  for (const { store, dir } of opened.splice(0)) {
    store.close();
    await rm(dir, { recursive: true, force: true });
  }
});

async function newEngine(): Promise<OperationEngine> {
  const dir = await mkdtemp(join(tmpdir(), 'kiln-timeline-'));
  const store = openSqliteStore(dir);
  opened.push({ store, dir });
  return new OperationEngine(store);
}

const base = { subscriptionId: 's', location: 'eastus', apiVersion: '2026-04-01', style: 'compute' as const, resourceId: '/r', operation: 'x' };
/** Slack (ms) for the engine's own work between reading the clock and applying a step. */
const SLACK = 15;

describe('operation timeline', () => {
  it('drops unseen work noted for a resource that was deleted: it stays out of memory and off the timeline', async () => {
    const engine = await newEngine();
    const t0 = Date.now();
    engine.noteUntilSeen('/vm/runCommands/rc', { operation: 'guest.script', resourceId: '/vm/guest', status: 'Succeeded', startedAt: t0, dueAt: t0 + 5 });
    engine.forget('/VM/runCommands/RC');
    engine.seen('/vm/runCommands/rc');
    expect(engine.timeline(t0)).toEqual([]);
  });

  it('records when a chained operation was due to end, not when a late poll settled it', async () => {
    const engine = await newEngine();
    // The first step schedules a second 30 ms after it runs, as handlers do (from Date.now()).
    engine.registerEffect('first', () => ({ addSteps: [{ at: Date.now() + 30, effect: { kind: 'second', args: {} } }] }));
    engine.registerEffect('second', () => undefined);
    const t0 = Date.now();
    const op = engine.start({ ...base, steps: [{ at: t0 + 20, effect: { kind: 'first', args: {} } }] });
    const startedAt = Date.parse(op.startTime);
    await sleep(120); // a poll 100 ms late: the second step is scheduled 100 ms late too
    await engine.settle();
    await sleep(120);
    await engine.settle();
    const [entry] = engine.timeline(startedAt);
    expect(entry).toMatchObject({ operation: 'x', resourceId: '/r', status: 'Succeeded', startedAt });
    expect(entry!.dueAt! - t0).toBeGreaterThanOrEqual(50);
    expect(entry!.dueAt! - startedAt).toBeLessThan(50 + SLACK);
    expect(entry!.settledAt! - startedAt).toBeGreaterThanOrEqual(240);
  });

  it('counts a script’s real run time, from when the step that launched it was due', async () => {
    const engine = await newEngine();
    engine.registerEffect('launch', (_args, op) => {
      engine.hold(op.id);
      // The "script" runs 40 ms, then its report is due 10 ms later.
      setTimeout(() => engine.resolveExternal(op.id, [{ at: Date.now() + 10, effect: { kind: 'report', args: {} } }]), 40);
    });
    engine.registerEffect('report', () => undefined);
    const t0 = Date.now();
    const op = engine.start({ ...base, steps: [{ at: t0 + 10, effect: { kind: 'launch', args: {} } }] });
    const startedAt = Date.parse(op.startTime);
    await sleep(110); // launched 100 ms late
    await engine.settle();
    await sleep(150);
    await engine.settle();
    const [entry] = engine.timeline(startedAt);
    expect(entry!.status).toBe('Succeeded');
    expect(entry!.dueAt! - t0).toBeGreaterThanOrEqual(60);
    expect(entry!.dueAt! - startedAt).toBeLessThan(60 + SLACK);
    expect(entry!.settledAt! - startedAt).toBeGreaterThanOrEqual(260);
  });

  it('lists only operations started since the given time, leaves a running one without an end, and adds noted work', async () => {
    const engine = await newEngine();
    const old = engine.start({ ...base, operation: 'old', steps: [] });
    await sleep(5);
    const since = Date.now();
    engine.start({ ...base, operation: 'running', steps: [{ at: Date.now() + 60_000, effect: { kind: 'none', args: {} } }] });
    const timeline = engine.timeline(since);
    expect(timeline.map((e) => e.operation)).toEqual(['running']);
    expect(timeline[0]!.dueAt).toBeUndefined();
    expect(engine.timeline().map((e) => e.operation)).toEqual([old.operation, 'running']);
    // Work that is no operation (a guest's detached processes) is on the timeline too, in start order.
    // Started after 'running' whatever the clock did between (a loaded machine can put ms between since and its start).
    const after = timeline[0]!.startedAt + 1;
    engine.note({ operation: 'guest.powerOff', resourceId: '/r/guest', status: 'Succeeded', startedAt: after, dueAt: after + 1, settledAt: after + 1 });
    expect(engine.timeline(since).map((e) => e.operation)).toEqual(['running', 'guest.powerOff']);
  });

  it('puts work that ended (an async Run Command\'s script) on the timeline once a request saw it end', async () => {
    const engine = await newEngine();
    const since = Date.now();
    engine.noteUntilSeen('/VM/runCommands/a', { operation: 'guest.script', resourceId: '/vm/guest', status: 'Succeeded', startedAt: since, dueAt: since + 1 });
    expect(engine.timeline(since)).toEqual([]);
    await sleep(5);
    // The sighting's time, not since + 5: a 5 ms timer can end 4 ms later by Date.now()'s whole milliseconds.
    const seenFrom = Date.now();
    engine.seen('/vm/runcommands/a');
    const [script] = engine.timeline(since);
    expect(script).toMatchObject({ operation: 'guest.script', startedAt: since, dueAt: since + 1 });
    expect(script!.settledAt!).toBeGreaterThanOrEqual(seenFrom);
    // Seen again: still one entry, first sighting kept.
    engine.seen('/vm/runcommands/a');
    expect(engine.timeline(since)).toEqual([script]);
  });
});

const entry = (operation: string, startedAt: number, dueAt: number, settledAt: number, resourceId = `/${operation}`): TimelineEntry => ({
  operation, resourceId, status: 'Succeeded', startedAt, dueAt, settledAt,
});

describe('critical path', () => {
  it('is the longest chain of operations each begun after the previous was seen to end', () => {
    const timeline = [
      entry('a', 0, 100, 110), // then two branches in parallel
      entry('b1', 120, 300, 320),
      entry('b2', 125, 200, 205),
      entry('c', 210, 260, 270), // after b2 only
      entry('d', 330, 400, 410), // after both branches
    ];
    const path = criticalPath(timeline, 0, 410);
    expect(path.chain.map((e) => e.operation)).toEqual(['a', 'b1', 'd']);
    expect(path.chainMs).toBe(100 + 180 + 70);
    expect(path.unionMs).toBe(100 + 180 + 70);
  });

  it('stays below the wall time and leaves out operations outside the window or still running', () => {
    const timeline = [
      entry('before', -50, -10, -5),
      entry('a', 0, 100, 150),
      entry('b', 160, 200, 260),
      { operation: 'running', resourceId: '/x', status: 'InProgress' as const, startedAt: 170 },
      entry('late', 250, 400, 420), // cut at the window's end
    ];
    const path = criticalPath(timeline, 0, 300);
    expect(path.chain.map((e) => e.operation)).toEqual(['a', 'late']);
    expect(path.chainMs).toBe(100 + 50);
    expect(path.unionMs).toBe(100 + 40 + 50);
  });

  it('lets a guest operation follow the run command that started it from its own start', () => {
    const vm = '/subscriptions/s/resourceGroups/g/providers/Microsoft.Compute/virtualMachines/v';
    const timeline = [
      entry('virtualMachines.runCommand', 0, 100, 130, `${vm}/runCommand`),
      entry('guest.shutdown', 90, 150, 160, `${vm}/guest`),
    ];
    const path = criticalPath(timeline, 0, 200);
    expect(path.chain.map((e) => e.operation)).toEqual(['virtualMachines.runCommand', 'guest.shutdown']);
    expect(path.chainMs).toBe(150);
  });

  it('lets an async Run Command\'s script follow it when it began after the PUT ended but before a poll saw that', () => {
    const vm = '/subscriptions/s/resourceGroups/g/providers/Microsoft.Compute/virtualMachines/v';
    const timeline = [
      entry('virtualMachines.createOrUpdate', 0, 100, 120, vm),
      entry('virtualMachineRunCommands.createOrUpdate', 150, 200, 260, `${vm}/runCommands/c`),
      entry('guest.script', 210, 400, 420, `${vm}/guest`),
    ];
    const path = criticalPath(timeline, 0, 500);
    expect(path.chain.map((e) => e.operation)).toEqual(['virtualMachines.createOrUpdate', 'virtualMachineRunCommands.createOrUpdate', 'guest.script']);
    // The script counts from the command's end: 100 + 50 + 190.
    expect(path.chainMs).toBe(340);
  });

  it('is zero for an empty window', () => {
    expect(criticalPath([], 0, 10)).toEqual({ chainMs: 0, chain: [], unionMs: 0 });
  });
});
