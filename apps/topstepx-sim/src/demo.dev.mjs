// `npm run sim:demo` entry: registers tsx with the workspace tsconfig, then runs demo.ts.
import { register } from 'tsx/esm/api';

register({ tsconfig: new URL('../../../tsconfig.base.json', import.meta.url).pathname });
await import('./demo.ts');
