#!/usr/bin/env node
// `nx run python-client:test`: generates the stubs, then runs the Python tests (unittest, Debian's
// /usr/bin/python3) which start their own engines. Always leaves test-output/summary.json
// ({"passed":N,"failed":N}, summed by `npm test`): when generation or the interpreter fails before the
// tests can report, it records one failure so a broken setup never reads as a pass.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { generate } from './generate.mjs';

const projectDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const summary = path.join(projectDir, 'test-output', 'summary.json');
const PYTHON = process.env.PYTHON ?? '/usr/bin/python3';

function fail(message) {
  console.error(`python-client test: ${message}`);
  mkdirSync(path.dirname(summary), { recursive: true });
  writeFileSync(summary, `${JSON.stringify({ passed: 0, failed: 1 })}\n`);
  process.exit(1);
}

rmSync(summary, { force: true });
try {
  generate();
} catch (err) {
  fail(`stub generation failed: ${err instanceof Error ? err.message : String(err)}`);
}
// Only test-file patterns are passed on (nx adds its own flags such as --run to every test target).
const patterns = process.argv.slice(2).filter((a) => !a.startsWith('-'));
const run = spawnSync(PYTHON, [path.join(projectDir, 'test/run_tests.py'), ...patterns.slice(0, 1)], {
  cwd: projectDir,
  stdio: 'inherit',
  env: { ...process.env, PYTHONDONTWRITEBYTECODE: '1', PYTHONUNBUFFERED: '1' },
});
if (run.error) fail(`cannot run ${PYTHON}: ${run.error.message} (Debian packages python3-grpcio python3-protobuf)`);
if (!existsSync(summary)) fail(`${PYTHON} exited with ${run.status ?? run.signal} before writing ${path.relative(projectDir, summary)}`);
process.exit(run.status ?? 1);
