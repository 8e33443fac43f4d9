#!/usr/bin/env node
// `npm test`: every project's tests through Nx, then one closing line `N passed, N failed` summed
// from the JSON report each vitest config writes to <project>/test-output/vitest.json (and any
// test-output/summary.json a non-vitest project writes: {"passed":N,"failed":N}).
// CI_STEP_FAILURES (set by .ci/run) adds failed lint/typecheck/build steps to the failed count.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const env = { ...process.env, CI: 'true', NX_DAEMON: 'false', NX_NO_CLOUD: 'true', NX_TUI: 'false', NX_INTERACTIVE: 'false' };

/** Project folders: every folder under apps/, libs/, tools/ with a project.json. */
function projectDirs() {
  const out = [];
  for (const top of ['apps', 'libs', 'tools']) {
    const dir = path.join(root, top);
    if (!existsSync(dir)) continue;
    for (const name of readdirSync(dir)) {
      const p = path.join(dir, name);
      if (statSync(p).isDirectory() && existsSync(path.join(p, 'project.json'))) out.push(p);
    }
  }
  return out;
}

const projects = projectDirs();
for (const p of projects) rmSync(path.join(p, 'test-output'), { recursive: true, force: true });

const extraArgs = process.argv.slice(2);
const run = spawnSync(
  process.execPath,
  [path.join(root, 'node_modules/.bin/nx'), 'run-many', '-t', 'test', '--parallel=1', '--outputStyle=static', ...extraArgs],
  { cwd: root, env, stdio: 'inherit' },
);

let passed = 0;
let failed = 0;
const missing = [];
for (const p of projects) {
  const vitest = path.join(p, 'test-output/vitest.json');
  const summary = path.join(p, 'test-output/summary.json');
  const hasTests = existsSync(path.join(p, 'vitest.config.ts'));
  if (existsSync(vitest)) {
    const r = JSON.parse(readFileSync(vitest, 'utf8'));
    passed += r.numPassedTests ?? 0;
    failed += (r.numFailedTests ?? 0) + (r.numTotalTestSuites > 0 && r.success === false && (r.numFailedTests ?? 0) === 0 ? 1 : 0);
  } else if (hasTests && !extraArgs.some((a) => a.startsWith('-p') || a.startsWith('--projects'))) {
    missing.push(path.relative(root, p));
  }
  if (existsSync(summary)) {
    const r = JSON.parse(readFileSync(summary, 'utf8'));
    passed += r.passed ?? 0;
    failed += r.failed ?? 0;
  }
}
// A project whose tests did not report at all (crashed runner) counts as a failure, never a pass.
failed += missing.length;
if (missing.length) console.error(`no test report from: ${missing.join(', ')}`);
const stepFailures = Number(process.env.CI_STEP_FAILURES ?? 0);
failed += stepFailures;
if (run.status !== 0 && failed === 0) failed = 1;
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed > 0 ? 1 : 0);
