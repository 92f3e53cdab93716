// The layout's promises, checked on every relative import in the repo: what is deployed (functions/, src/) never
// reaches the CLI or the embedded default; the emulator emulates Azure, not Kiln; run records sit below the pipeline.
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = resolve(import.meta.dirname, '../..');
const IMPORT = /(?:^|[\s;])(?:import|export)\s[^'"]*?from\s*['"](\.{1,2}\/[^'"]+)['"]|import\(\s*['"](\.{1,2}\/[^'"]+)['"]\s*\)|^import\s+['"](\.{1,2}\/[^'"]+)['"]/gm;

function sources(dir: string): string[] {
  return readdirSync(join(root, dir), { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile() && /\.(ts|js)$/.test(entry.name))
    .map((entry) => relative(root, join(entry.parentPath, entry.name)));
}

/** Every relative import in the given folders as [importer, imported], both relative to the repo root. */
export function importsOf(dirs: string[]): Array<[string, string]> {
  const edges: Array<[string, string]> = [];
  for (const file of dirs.flatMap(sources)) {
    for (const match of readFileSync(join(root, file), 'utf8').matchAll(IMPORT)) {
      const spec = match[1] ?? match[2] ?? match[3];
      if (spec) edges.push([file, relative(root, resolve(root, dirname(file), spec))]);
    }
  }
  return edges;
}

const under = (path: string, folder: string) => path === folder || path.startsWith(`${folder}/`);
const violations = (from: string[], forbidden: (target: string) => boolean) =>
  importsOf(from).filter(([, target]) => forbidden(target)).map(([file, target]) => `${file} → ${target}`);

describe('import directions', () => {
  it('sees the imports it checks (the parser is not blind)', () => {
    const edges = importsOf(['src', 'functions', 'cli', 'local']);
    expect(edges.length).toBeGreaterThan(300);
    expect(edges).toContainEqual(['functions/activities.ts', expect.stringMatching(/^src\//)]);
    expect(edges.some(([file, target]) => under(file, 'cli') && under(target, 'local'))).toBe(true);
  });

  it('functions/ and src/ (the deployed app) never import the CLI, the embedded default, tests or benches', () => {
    expect(violations(['functions', 'src'], (t) => ['cli', 'local', 'test', 'bench'].some((f) => under(t, f)))).toEqual([]);
  });

  it('the Azure emulator imports nothing of Kiln (it emulates Azure, not Kiln)', () => {
    expect(violations(['local/azure'], (t) => !under(t, 'local/azure'))).toEqual([]);
  });

  it('the local Functions host imports nothing of Kiln (it hosts any Functions app)', () => {
    expect(violations(['local/host'], (t) => !under(t, 'local/host'))).toEqual([]);
  });

  it('run records (src/runs) import neither the pipeline nor the activities', () => {
    expect(violations(['src/runs'], (t) => under(t, 'src/pipeline') || under(t, 'src/activities'))).toEqual([]);
  });

  it('Azure adapters (src/azure) import no pipeline, activity, API or run-record code', () => {
    expect(violations(['src/azure'], (t) => ['src/pipeline', 'src/activities', 'src/api', 'src/runs'].some((f) => under(t, f)))).toEqual([]);
  });
});
