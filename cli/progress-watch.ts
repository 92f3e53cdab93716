/** Follows a bake until it ends: polls the API and shows progress live on a terminal, as plain lines elsewhere. */

import { KilnApiError, type KilnClient } from '../src/api/client.ts';
import { FINAL_RUN_STATUSES, type RunRecord } from '../src/runs/record.ts';
import { changeLines, progressBlock, snapshotOf, type ProgressSnapshot, type RunView } from './progress.ts';


/** A long bake outlives a server hiccup: this many failed looks in a row (5xx, no connection) before giving up. */
const MAX_FAILED_LOOKS = 5;

function transient(error: unknown): boolean {
  return !(error instanceof KilnApiError) || error.statusCode >= 500;
}

export interface WatchOptions {
  /** Where progress goes. */
  out: NodeJS.WriteStream;
  /** Redraw a live block (a terminal) instead of printing change lines. */
  live: boolean;
  intervalMs: number;
}

/** A block redrawn in place: the cursor moves up over the previous block and clears it. */
class LiveBlock {
  #height = 0;
  readonly #out: NodeJS.WriteStream;

  constructor(out: NodeJS.WriteStream) {
    this.#out = out;
  }

  draw(lines: string[]): void {
    const up = this.#height ? `\x1b[${this.#height}F` : '';
    this.#out.write(`${up}\x1b[0J${lines.join('\n')}\n`);
    this.#height = lines.length;
  }
}

/** Polls GET /builds/{id} until the run ends; resolves with the final record. */
export async function watchRun(client: KilnClient, id: string, options: WatchOptions): Promise<RunRecord> {
  const block = options.live ? new LiveBlock(options.out) : undefined;
  let previous: ProgressSnapshot | undefined;
  let failedLooks = 0;
  for (;;) {
    let run: RunView;
    try {
      run = await client.getRun<RunView>(id);
      failedLooks = 0;
    } catch (error) {
      failedLooks += 1;
      if (!transient(error) || failedLooks >= MAX_FAILED_LOOKS) throw error;
      await new Promise((resolve) => setTimeout(resolve, options.intervalMs));
      continue;
    }
    const snapshot = snapshotOf(run);
    if (block) block.draw(progressBlock(snapshot, options.out.columns ?? 80));
    else for (const line of changeLines(previous, snapshot)) options.out.write(`${line}\n`);
    previous = snapshot;
    if (FINAL_RUN_STATUSES.has(run.status)) {
      const { progress: _live, ...record } = run;
      return record;
    }
    await new Promise((resolve) => setTimeout(resolve, options.intervalMs));
  }
}
