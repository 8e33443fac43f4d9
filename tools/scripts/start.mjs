#!/usr/bin/env node
// `npm start`: build the engine and its apps if needed (Nx caches the build, so a second start is
// quick), then run the compiled engine. Signals are forwarded; the exit code is the engine's.
import { spawn, spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const env = { ...process.env, NX_DAEMON: 'false', NX_NO_CLOUD: 'true', NX_TUI: 'false', NX_INTERACTIVE: 'false' };
const build = spawnSync(process.execPath, [path.join(root, 'node_modules/.bin/nx'), 'run', 'engine:build', '--outputStyle=static'], {
  cwd: root,
  env,
  stdio: ['ignore', 'ignore', 'inherit'],
});
if (build.status !== 0) {
  console.error('npm start: the build failed; run `npx nx run engine:build` to see why');
  process.exit(build.status ?? 1);
}
// Smaller young generation: the main thread allocates little, and a smaller semi-space keeps its RSS lower.
// Two V8 helper threads instead of four: about 5 MB less RSS, no change in order latency on 2 cores (ADR 0005).
// The benchmark starts the engine with the same flags (tools/bench/src/engine-process.ts ENGINE_NODE_FLAGS).
const child = spawn(process.execPath, ['--max-semi-space-size=1', '--v8-pool-size=2', path.join(root, 'dist/apps/engine/main.js')], {
  cwd: root,
  env: process.env,
  stdio: 'inherit',
});
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => child.kill(sig));
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
