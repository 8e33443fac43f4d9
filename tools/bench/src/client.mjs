// Entry of a forked load-generator process: Node 20 cannot run TypeScript directly, so register tsx with the
// workspace tsconfig (for the @gateway/* aliases) and load the real client.
import { fileURLToPath } from 'node:url';
import { register } from 'tsx/esm/api';

register({ tsconfig: fileURLToPath(new URL('../../../tsconfig.base.json', import.meta.url)) });
await import('./client.ts');
