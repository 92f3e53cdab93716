import { describe, expect, it } from 'vitest';
import { warmUp } from '../../src/api/warm-up.ts';

describe('warmUp (the appStart hook)', () => {
  it('waits for every step, and a failing step fails nothing', async () => {
    const done: string[] = [];
    await warmUp(60_000, [
      async () => {
        await new Promise((resolve) => setTimeout(resolve, 20));
        done.push('slow');
      },
      () => Promise.reject(new Error('the stores are out of reach')),
      () => {
        throw new Error('thrown before any promise');
      },
      async () => done.push('quick'),
    ]);
    expect(done.sort()).toEqual(['quick', 'slow']);
  });

  it('gives up waiting at its limit when a step never ends (a worker must start anyway)', async () => {
    let settled = false;
    const warming = warmUp(30, [() => new Promise(() => undefined)]).then(() => (settled = true));
    await new Promise((resolve) => setTimeout(resolve, 5));
    expect(settled).toBe(false);
    await warming;
    expect(settled).toBe(true);
  });
});
