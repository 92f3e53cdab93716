/** The local durable engine's scale-out (local/host/durable/engine.ts): host.json's limits are per instance. */

import { describe, expect, it } from 'vitest';
import { LOCAL_SCALE_OUT, scaledSlots } from '../../local/host/durable/engine.ts';

describe('local scale-out', () => {
  it("takes one more instance's slots per instance's worth of backlog, up to LOCAL_SCALE_OUT instances", () => {
    expect(scaledSlots(10, 0)).toBe(10);
    expect(scaledSlots(10, 10)).toBe(10);
    expect(scaledSlots(10, 11)).toBe(20);
    expect(scaledSlots(10, 55)).toBe(60);
    expect(scaledSlots(10, 10_000)).toBe(10 * LOCAL_SCALE_OUT);
  });
});
