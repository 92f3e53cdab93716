/** The schedule timers' handlers: patch rebuilds (schedule.patch) and source-update rebuilds (schedule.onSourceUpdate). */

import type { InvocationContext, Timer } from '@azure/functions';
import type { DurableClient } from 'durable-functions';
import { getImageDefinition, getImageVersion, highestVersion, listVersionNames, compareVersions } from '../azure/galleries.ts';
import { latestPlatformImageVersion } from '../azure/marketplace.ts';
import {
  galleryTarget, isScheduleDue, planPatchRebuild, planSourceUpdateRebuild, SchedulePlanError, sourceUpdateDecision,
} from '../pipeline/schedule.ts';
import { TEMPLATE_NAME } from '../template/fields.ts';
import { loadTemplateFiles } from '../template/stored.ts';
import type { BakeSpec } from '../template/spec.ts';
import { startBake } from './bakes.ts';
import { openScheduleStateStore, type ScheduleStateStore } from './schedule-state.ts';
import { services, type Services } from './services.ts';

/**
 * The time a tick stands for: the schedule occurrence it fires for, or now if later. On Azure that is now; on the
 * local host the occurrence follows its skippable clock, so schedules of days are tested in milliseconds.
 */
export function tickTime(timer: Timer): Date {
  const occurrence = Date.parse(timer.scheduleStatus?.next ?? '');
  return new Date(Number.isNaN(occurrence) ? Date.now() : Math.max(Date.now(), occurrence));
}

interface ScheduledTemplate {
  name: string;
  spec: BakeSpec;
  /** When the template file was last written (stored or dropped). */
  storedAt: Date;
}

/**
 * Every stored template that parses; an invalid one (or a blob whose name no template can have) is skipped here:
 * its blob drop already recorded why.
 */
async function scheduledTemplates(svc: Services, context: InvocationContext): Promise<ScheduledTemplate[]> {
  const found: ScheduledTemplate[] = [];
  for (const name of await svc.templates.list()) {
    if (!TEMPLATE_NAME.test(name)) continue;
    let stored: Awaited<ReturnType<typeof svc.templates.read>>;
    try {
      stored = await svc.templates.read(name);
    } catch (error) {
      context.warn(`schedule: template ${name} cannot be read (${(error as Error).message}); skipped`);
      continue;
    }
    if (!stored) continue;
    const parsed = await loadTemplateFiles(stored, { name, subscriptionId: svc.config.subscriptionId });
    if (parsed.ok) found.push({ name, spec: parsed.spec, storedAt: stored.lastModified });
    else context.warn(`schedule: template ${name} is invalid (${parsed.errors.length} errors); skipped`);
  }
  return found;
}

/** Runs `work` per template; one template's failure is logged and does not stop the others. */
async function eachTemplate(
  context: InvocationContext,
  label: string,
  templates: ScheduledTemplate[],
  work: (template: ScheduledTemplate) => Promise<void>,
): Promise<void> {
  for (const template of templates) {
    try {
      await work(template);
    } catch (error) {
      context.error(`${label}: template ${template.name}: ${(error as Error).message}`);
    }
  }
}

/** The gallery's latest version (highest not excluded from latest and provisioned), and the highest of all. */
async function galleryVersions(svc: Services, imageDefinitionId: string): Promise<{ latest: string; highest: string } | undefined> {
  const names = await listVersionNames(svc.azure, imageDefinitionId);
  const highest = highestVersion(names);
  if (!highest) return undefined;
  const newestFirst = [...names].sort(compareVersions).reverse();
  for (const name of newestFirst) {
    const version = await getImageVersion(svc.azure, `${imageDefinitionId}/versions/${name}`);
    if (version?.publishingProfile?.excludeFromLatest !== true && version?.provisioningState === 'Succeeded') {
      return { latest: name, highest };
    }
  }
  return undefined;
}

/**
 * Patch rebuilds: a template whose schedule.patch had an occurrence since the last tick (or since it was stored)
 * is rebuilt from its image's latest gallery version with the OS patch step, as the next patch version.
 */
export async function runPatchRebuilds(timer: Timer, client: DurableClient, context: InvocationContext): Promise<void> {
  const tick = tickTime(timer);
  const svc = await services();
  const state: ScheduleStateStore = await openScheduleStateStore(svc.azure.blobs);
  const templates = (await scheduledTemplates(svc, context)).filter((t) => t.spec.schedule.patch);
  await eachTemplate(context, 'patch rebuild', templates, async ({ name, spec, storedAt }) => {
    const since = (await state.get(name)).patchCheckedAt;
    const from = since ? new Date(since) : storedAt;
    if (isScheduleDue(spec.schedule.patch!, from, tick)) {
      // Azure failures throw and leave the occurrence due, so the next tick tries again; a template that cannot
      // be patched (no gallery target, an OS Kiln cannot tell) is reported once per occurrence and skipped.
      try {
        const target = galleryTarget(spec);
        if (!target) throw new SchedulePlanError('schedule.patch needs a SharedImage distribution; none found');
        const versions = await galleryVersions(svc, target.image.id);
        if (!versions) throw new Error(`image ${target.image.id} has no published version to patch yet`);
        const definition = await getImageDefinition(svc.azure, target.image.id);
        const osType = definition?.osType === 'Windows' ? 'Windows' : definition?.osType === 'Linux' ? 'Linux' : undefined;
        const planned = planPatchRebuild(spec, { latestVersion: versions.latest, highestVersion: versions.highest, ...(osType ? { osType } : {}) });
        const runId = await startBake(client, svc.runs, { templateName: name, trigger: 'timer', spec: planned });
        context.log(`patch rebuild of ${name} from ${versions.latest}: run ${runId}`);
      } catch (error) {
        if (!(error instanceof SchedulePlanError)) throw error;
        context.error(`patch rebuild: template ${name}: ${error.message}; this occurrence is skipped`);
      }
    }
    await state.update(name, { patchCheckedAt: tick.toISOString() });
  });
}

/**
 * Source-update rebuilds: a template with schedule.onSourceUpdate is rebuilt, pinned to the new version, when its
 * marketplace image publishes a version newer than the one the last check saw.
 */
export async function runSourceUpdateRebuilds(_timer: Timer, client: DurableClient, context: InvocationContext): Promise<void> {
  const svc = await services();
  const state = await openScheduleStateStore(svc.azure.blobs);
  const templates = (await scheduledTemplates(svc, context)).filter((t) => t.spec.schedule.onSourceUpdate);
  await eachTemplate(context, 'source update', templates, async ({ name, spec }) => {
    if (spec.source.type !== 'PlatformImage') throw new Error(`schedule.onSourceUpdate needs a PlatformImage source, found ${spec.source.type}`);
    const { publisher, offer, sku } = spec.source;
    const latest = await latestPlatformImageVersion(svc.azure, { location: spec.location, publisher, offer, sku });
    if (!latest) throw new Error(`marketplace lists no version of ${publisher}:${offer}:${sku} in ${spec.location}`);
    const decision = sourceUpdateDecision(latest, (await state.get(name)).sourceVersion);
    if (decision === 'rebuild') {
      const runId = await startBake(client, svc.runs, { templateName: name, trigger: 'timer', spec: planSourceUpdateRebuild(spec, latest) });
      context.log(`source update of ${name} to ${publisher}:${offer}:${sku}:${latest}: run ${runId}`);
    }
    if (decision !== 'unchanged') await state.update(name, { sourceVersion: latest });
  });
}
