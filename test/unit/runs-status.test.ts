import { describe, expect, it } from 'vitest';
import { newRunRecord, updateStep } from '../../src/pipeline/journal.ts';
import { isRunId, newRunId, slugify } from '../../src/runs/ids.ts';
import { mergeProgress, progressOf } from '../../src/runs/status.ts';
import type { BakeSpec } from '../../src/template/spec.ts';

const record = newRunRecord(
  { runId: 'web-20261125T130000Z-0001', templateName: 'web', trigger: 'cli', spec: { name: 'web' } as BakeSpec },
  '2026-11-25T13:00:00.000Z',
);

describe('run ids', () => {
  it('names the template and the UTC second, with a random suffix', () => {
    const id = newRunId('Ubuntu Web!', new Date('2026-11-25T13:19:00.123Z'), () => '3f2a');
    expect(id).toBe('ubuntu-web-20261125T131900Z-3f2a');
    expect(isRunId(id)).toBe(true);
    expect(isRunId('../etc/passwd')).toBe(false);
    expect(slugify('***')).toBe('template');
  });

  it('gives two runs started in the same second different ids', () => {
    const now = new Date();
    const ids = new Set(Array.from({ length: 20 }, () => newRunId('web', now)));
    expect(ids.size).toBeGreaterThan(1);
  });
});

describe('status projection', () => {
  it('applies region and scale-set progress slices to the record', () => {
    const merged = mergeProgress(record, [
      { kind: 'region', region: 'westeurope', state: 'Replicating', percent: 40 },
      { kind: 'scaleSet', scaleSetId: '/s/web-vmss', status: 'Updating', updated: 1, total: 3, batch: 1, batches: 3 },
    ]);
    expect(merged.outputs.regions).toEqual({ westeurope: 'Replicating' });
    expect(merged.outputs.scaleSets).toEqual([{ id: '/s/web-vmss', status: 'Updating', updated: 1, total: 3 }]);
    expect(record.outputs.regions).toEqual({});
  });

  it('shows the running step, every step state and why the bake waits', () => {
    const running = updateStep(updateStep(record, 'plan', { status: 'Succeeded' }), 'lock', { status: 'Running' });
    const progress = progressOf(running, 'the bake lock, held by run web-1');
    expect(progress.step).toBe('lock');
    expect(progress.steps.slice(0, 3)).toEqual([
      { name: 'plan', status: 'Succeeded' },
      { name: 'lock', status: 'Running' },
      { name: 'stage', status: 'Pending' },
    ]);
    expect(progress.waitingFor).toBe('the bake lock, held by run web-1');
  });
});
