// Runs gate.bench.ts with tsx and the workspace tsconfig (paths): node libs/risk-gate/bench/run.mjs
import { fileURLToPath } from 'node:url';
import { register } from 'tsx/esm/api';
register({ tsconfig: fileURLToPath(new URL('../../../tsconfig.base.json', import.meta.url)) });
await import('./gate.bench.ts');
