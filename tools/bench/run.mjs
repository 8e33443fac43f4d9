#!/usr/bin/env node
// `npm run bench`: the benchmark harness of issue 8 (flags: --quick, --json, --soak [--soak-minutes N],
// --only bars,risk,orders,idle,load,steady,soak). Plain ESM entry: registers tsx with the workspace tsconfig
// (for the @gateway/* aliases) and runs tools/bench/src/main.ts in this process. The engine under test and
// every load generator run as separate processes.
import { fileURLToPath } from 'node:url';
import { register } from 'tsx/esm/api';

register({ tsconfig: fileURLToPath(new URL('../../tsconfig.base.json', import.meta.url)) });
const { main } = await import('./src/main.ts');
try {
  process.exitCode = await main(process.argv.slice(2));
} catch (err) {
  console.error(`bench: ${err instanceof Error ? err.message : String(err)}`);
  process.exitCode = err instanceof RangeError ? 2 : 1;
}
