// Development entry of this app's process (used when the engine or a test starts it as a child):
// registers tsx with the workspace tsconfig, then runs the TypeScript main. Production runs
// dist/apps/<app>/main.js.
import { register } from 'tsx/esm/api';

register({ tsconfig: new URL('../../../tsconfig.base.json', import.meta.url).pathname });
await import('./main.ts');
