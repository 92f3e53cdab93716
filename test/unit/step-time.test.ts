// A step's time: the template's optional `timeout` (AIB durations), else what is left of buildTimeoutInMinutes; the
// watchdog and the Run Command's timeoutInSeconds come from that one figure.
import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { customizerScript } from '../../src/activities/scripts.ts';
import { customizerWatchdogMs, stepLimitMs } from '../../src/pipeline/watchdogs.ts';
import { parseTemplate, type BakeSpec } from '../../src/template/index.ts';

const MINUTE = 60_000;

async function windowsSpec(patch: (customize: Record<string, unknown>[]) => void): Promise<BakeSpec> {
  const template = JSON.parse(await readFile('examples/windows-base.json', 'utf8'));
  patch(template.properties.customize);
  const parsed = parseTemplate(template);
  if (!parsed.ok) throw new Error(JSON.stringify(parsed.errors));
  return parsed.spec;
}

describe('step time', () => {
  it('takes a customizer timeout in AIB or ISO form, else what is left of the build', async () => {
    const spec = await windowsSpec((c) => {
      c[0]!.timeout = '10m';
      c[2]!.timeout = 'PT6H';
    });
    const [settings, restart, updates] = spec.customizers;
    expect(settings).toMatchObject({ timeout: { ms: 10 * MINUTE } });
    // A timeout is never longer than the build has left.
    expect(stepLimitMs(settings!, 120 * MINUTE)).toBe(10 * MINUTE);
    expect(stepLimitMs(settings!, 4 * MINUTE)).toBe(4 * MINUTE);
    expect(stepLimitMs(updates!, 10 * 60 * MINUTE)).toBe(6 * 60 * MINUTE);
    // The watchdog follows: a script its Run Command's time plus the time to report; updates the whole loop.
    expect(customizerWatchdogMs(settings!, 120 * MINUTE)).toBe(15 * MINUTE);
    expect(customizerWatchdogMs(updates!, 10 * 60 * MINUTE)).toBe(6 * 60 * MINUTE);
    expect(customizerWatchdogMs(restart!, 600 * MINUTE)).toBe(20 * MINUTE);
  });

  it('without a timeout: what is left of the build, one Run Command capped at Azure\'s 90 minutes', async () => {
    const settings = (await windowsSpec(() => undefined)).customizers[0]!;
    expect(customizerWatchdogMs(settings, 300 * MINUTE)).toBe(95 * MINUTE);
    expect(customizerScript(settings, 'Windows', stepLimitMs(settings, 30 * MINUTE)).timeoutInSeconds).toBe(1800);
    expect(customizerScript(settings, 'Windows', stepLimitMs(settings, 300 * MINUTE)).timeoutInSeconds).toBe(5400);
  });
});
