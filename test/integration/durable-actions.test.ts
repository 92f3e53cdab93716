import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LOCAL_SCALE_OUT } from '../../local/host/durable/engine.ts';
import { startDurableHost, type DurableTestHost } from './durable-helpers.ts';

let t: DurableTestHost;

beforeAll(async () => {
  t = await startDurableHost();
});

afterAll(async () => {
  await t?.close();
});

describe('durable engine: actions', () => {
  it('runs activities in sequence through the SDK replay, with custom status and history', async () => {
    const id = await t.client.startNew('Sequence', { instanceId: 'seq-1', input: ['Tokyo', 'Seattle'] });
    expect(id).toBe('seq-1');
    const status = await t.waitFor(id);
    expect(status.runtimeStatus).toBe('Completed');
    expect(status.output).toEqual(['Hello Tokyo!', 'Hello Seattle!']);
    expect(status.customStatus).toEqual({ at: 'Seattle' });
    expect(status.input).toEqual(['Tokyo', 'Seattle']);
    const withHistory = await t.client.getStatus(id, { showHistory: true, showHistoryOutput: true });
    const types = (withHistory.history as { EventType: string }[]).map((e) => e.EventType);
    expect(types).toEqual([
      'ExecutionStarted', 'TaskScheduled', 'TaskCompleted', 'TaskScheduled', 'TaskCompleted', 'ExecutionCompleted',
    ]);
    expect((withHistory.history as { Result?: unknown }[])[2]!.Result).toBe('Hello Tokyo!');
  });

  it('runs Task.all fan-out', async () => {
    const id = await t.client.startNew('FanOut', { input: 6 });
    const status = await t.waitFor(id);
    expect(status.output).toEqual(['Hello #0!', 'Hello #1!', 'Hello #2!', 'Hello #3!', 'Hello #4!', 'Hello #5!']);
  });

  it('runs maxConcurrentActivityFunctions (host.json: 4) activities per instance, scaled out to LOCAL_SCALE_OUT instances for a backlog', async () => {
    const id = await t.client.startNew('FanOutConcurrent');
    const status = await t.waitFor(id);
    expect(status.runtimeStatus).toBe('Completed');
    // 40 queued at once: 4 × 8 instances run together, never more.
    expect(Math.max(...(status.output as number[]))).toBe(4 * LOCAL_SCALE_OUT);
  });

  it('turns an activity error into TaskFailed that the orchestrator can catch', async () => {
    const id = await t.client.startNew('CatchBoom');
    const status = await t.waitFor(id);
    expect(status.output).toBe("Activity function 'Boom' failed: kaboom ");
  });

  it('fails the task when an entity operation throws or callHttp is used', async () => {
    const id = await t.client.startNew('TaskErrors');
    const status = await t.waitFor(id);
    expect(status.output).toEqual([
      "Entity operation 'divide' on @counter@errors failed",
      'callHttp is not supported by the local durable engine: call HTTP endpoints from an activity ',
    ]);
  });

  it('fails the instance with the message when the orchestrator throws', async () => {
    const id = await t.client.startNew('Throws');
    const status = await t.waitFor(id);
    expect(status.runtimeStatus).toBe('Failed');
    expect(status.output).toBe('orchestrator exploded');
  });

  it('fails the instance with the SDK message when the orchestrator yields a non-task', async () => {
    const id = await t.client.startNew('YieldsNonTask');
    const status = await t.waitFor(id);
    expect(status.runtimeStatus).toBe('Failed');
    expect(String(status.output)).toMatch(/Durable Functions programming constraint violation: Orchestration yielded data of type number/);
  });

  it('detects an orchestrator that schedules something else on replay', async () => {
    const id = await t.client.startNew('NonDeterministic');
    const status = await t.waitFor(id);
    expect(status.runtimeStatus).toBe('Failed');
    expect(String(status.output)).toMatch(/Non-deterministic orchestrator 'NonDeterministic': on replay, action #0 is CallActivity 'Boom', but the history has CallActivity 'Hello'/);
  });

  it('fails an activity that outlives functionTimeout, and keeps serving', async () => {
    const id = await t.client.startNew('CallsSlow', { input: 3_000 });
    const status = await t.waitFor(id);
    expect(status.runtimeStatus).toBe('Failed');
    expect(String(status.output)).toMatch(/Activity function 'Slow' failed: Timeout value of 00:00:01 \(host.json functionTimeout\) was exceeded/);
    const next = await t.client.startNew('Sequence', { input: ['Lima'] });
    expect((await t.waitFor(next)).output).toEqual(['Hello Lima!']);
  });

  it('runs sub-orchestrations: result, failure, and retry of a failing child', async () => {
    const id = await t.client.startNew('Parent', { instanceId: 'parent-1' });
    // The retried child waits on a 1 s retry timer: skip the clock ahead until the parent finishes.
    const status = await t.waitFor(id, (s) => {
      void t.clock.advance(1_000);
      return s.runtimeStatus === 'Completed' || s.runtimeStatus === 'Failed';
    });
    expect(status.runtimeStatus).toBe('Completed');
    expect(status.output).toEqual({
      child: ['Hello Oslo!'],
      failed: "Sub-orchestration 'Throws' (instance 'parent-1:1') failed: orchestrator exploded ",
      retried: 'ok on attempt 2',
    });
    const child = await t.client.getStatus('parent-1-child');
    expect(child.runtimeStatus).toBe('Completed');
  });

  it('continues as new until done', async () => {
    const id = await t.client.startNew('Countdown', { input: { n: 3, said: [] } });
    const status = await t.waitFor(id);
    expect(status.output).toEqual(['Hello n=3!', 'Hello n=2!', 'Hello n=1!', 'Hello n=0!']);
    const history = (await t.client.getStatus(id, { showHistory: true })).history as { EventType: string }[];
    expect(history.filter((e) => e.EventType === 'TaskScheduled')).toHaveLength(1);
  });

  it('carries events raised early over continueAsNew', async () => {
    const id = await t.client.startNew('EventLoop', { input: [] });
    for (const item of ['a', 'b', 'c']) await t.client.raiseEvent(id, 'item', item);
    const status = await t.waitFor(id);
    expect(status.output).toEqual(['a', 'b', 'c']);
  });
});
