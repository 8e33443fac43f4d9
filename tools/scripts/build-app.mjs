#!/usr/bin/env node
// Production build of one app: every entry (main.ts, worker.ts) bundled by esbuild into
// dist/apps/<app>/<entry>.js, one ESM file per entry, workspace libs inlined, npm packages left
// external (they load from node_modules). Compiled JS starts faster and saves ~30 MB RSS per process
// against tsx (toolchain.md).
import { build } from 'esbuild';
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const appDir = process.argv[2];
if (!appDir) {
  console.error('usage: build-app.mjs apps/<name>');
  process.exit(2);
}
const name = path.basename(appDir);
const outdir = path.join(root, 'dist/apps', name);
const entries = ['main', 'worker'].map((e) => path.join(root, appDir, 'src', `${e}.ts`)).filter((f) => existsSync(f));
if (entries.length === 0) {
  console.error(`no src/main.ts or src/worker.ts in ${appDir}`);
  process.exit(1);
}
rmSync(outdir, { recursive: true, force: true });
mkdirSync(outdir, { recursive: true });
await build({
  entryPoints: entries,
  outdir,
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  packages: 'external',
  sourcemap: true,
  tsconfig: path.join(root, 'tsconfig.base.json'),
  logLevel: 'warning',
  legalComments: 'none',
});
console.log(`built ${path.relative(root, outdir)}: ${entries.map((e) => path.basename(e, '.ts') + '.js').join(', ')}`);
