// Where a thread entry lives, in development (TypeScript through a tiny .mjs shim that registers tsx,
// because Node 20 cannot load .ts as a Worker entry) and in production (compiled JS under dist/).
// The engine's compiled main sits at dist/apps/engine/main.js and each app's entry at
// dist/apps/<app>/<entry>.js; in the source tree the shim is apps/<app>/src/<entry>.dev.mjs.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** True when the calling module runs from compiled JS (its URL ends in .js). */
export function isCompiled(moduleUrl: string): boolean {
  return moduleUrl.endsWith('.js');
}

/**
 * The entry file of another app's thread or process, resolved from the caller's module URL.
 * `callerDepth` is how deep the caller sits below the workspace root in the source tree
 * (apps/engine/src/x.ts → 3).
 */
export function appEntry(callerUrl: string, app: string, entry: 'worker' | 'main', callerDepth = 3): string {
  const url = isCompiled(callerUrl)
    ? new URL(`../${app}/${entry}.js`, callerUrl)
    : new URL(`${'../'.repeat(callerDepth)}apps/${app}/src/${entry}.dev.mjs`, callerUrl);
  const file = fileURLToPath(url);
  if (!existsSync(file)) throw new Error(`entry for ${app} ${entry} not found at ${file}`);
  return file;
}
