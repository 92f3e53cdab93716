/**
 * `npm run package`: builds the Function App package that azd deploys (.package/app, zipped as .package/kiln-app.zip):
 * the compiled app (functions/ and src/ only), host.json, and production dependencies only. The CLI, the embedded
 * default, tests and local state never enter it; test/integration/package.test.ts starts the local host on it.
 */
import { execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';

const repoRoot = resolve(import.meta.dirname, '..');

/** Folders (relative to the repo) that the deployed app reads at run time besides its compiled code. */
export const PACKAGE_ASSETS: readonly string[] = ['web'];

export interface PackageSummary {
  dir: string;
  zip: string;
  files: number;
  bytes: number;
  zipBytes: number;
}

function walk(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => join(entry.parentPath, entry.name));
}

/** Builds the package into `outDir` (default .package) and returns what it holds. */
export function buildPackage(outDir = join(repoRoot, '.package')): PackageSummary {
  const app = join(outDir, 'app');
  rmSync(outDir, { recursive: true, force: true });
  mkdirSync(app, { recursive: true });
  const npmBin = join(repoRoot, 'node_modules', '.bin');
  execFileSync(join(npmBin, 'tsc'), ['-p', join(repoRoot, 'tsconfig.build.json'), '--outDir', join(app, 'dist'), '--sourceMap', 'false'], { stdio: 'inherit' });
  cpSync(join(repoRoot, 'host.json'), join(app, 'host.json'));
  for (const asset of PACKAGE_ASSETS) cpSync(join(repoRoot, asset), join(app, asset), { recursive: true });

  // Production dependencies only: the lock pins their versions; devDependencies (the embedded default, the `node`
  // binary package, vitest, the CLI's commander) are dropped from the manifest so no later install brings them back.
  const manifest = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as Record<string, unknown>;
  const deployed = {
    name: manifest.name,
    version: manifest.version,
    private: true,
    type: 'module',
    description: manifest.description,
    engines: manifest.engines,
    main: 'dist/functions/index.js',
    dependencies: manifest.dependencies,
    allowScripts: manifest.allowScripts,
  };
  writeFileSync(join(app, 'package.json'), `${JSON.stringify(deployed, null, 2)}\n`);
  cpSync(join(repoRoot, 'package-lock.json'), join(app, 'package-lock.json'));
  execFileSync('npm', ['install', '--omit=dev', '--no-audit', '--no-fund', '--loglevel=error'], { cwd: app, stdio: 'inherit' });

  const zip = join(outDir, 'kiln-app.zip');
  execFileSync('zip', ['-q', '-r', '-X', '-y', zip, '.'], { cwd: app });
  const files = walk(app);
  return {
    dir: app,
    zip,
    files: files.length,
    bytes: files.reduce((sum, file) => sum + statSync(file).size, 0),
    zipBytes: statSync(zip).size,
  };
}

if (process.argv[1] && resolve(process.argv[1]) === resolve(import.meta.filename)) {
  const summary = buildPackage(process.argv[2] ? resolve(process.argv[2]) : undefined);
  const mb = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MB`;
  console.log(`package ${relative(process.cwd(), summary.dir)}: ${summary.files} files, ${mb(summary.bytes)} unpacked; ${relative(process.cwd(), summary.zip)} ${mb(summary.zipBytes)}`);
}
