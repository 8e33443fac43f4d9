// Development entry of this app's thread: Node 20 cannot load a .ts file as a Worker (or piscina)
// entry, so this shim registers tsx with the workspace tsconfig (for the @gateway/* paths) and loads
// the TypeScript entry. Production loads the compiled dist/apps/<app>/worker.js instead.
import { register } from 'tsx/esm/api';

register({ tsconfig: new URL('../../../tsconfig.base.json', import.meta.url).pathname });
const mod = await import('./worker.ts');
export default mod.default;
