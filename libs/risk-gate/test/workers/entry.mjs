// Node 20 cannot start a Worker from a .ts file: register tsx with the workspace tsconfig, then import the
// TypeScript module named in workerData.script (relative to this folder).
import { fileURLToPath } from 'node:url';
import { workerData } from 'node:worker_threads';
import { register } from 'tsx/esm/api';

register({ tsconfig: fileURLToPath(new URL('../../../../tsconfig.base.json', import.meta.url)) });
await import(new URL(workerData.script, import.meta.url).href);
