// Workspace-wide test preset (the Nx convention for shared test settings). No Jest is installed:
// every project's vitest.config.ts builds its config from `projectTestConfig` below, so the
// aliases, timeouts and reporters are declared once for the whole workspace.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const workspaceRoot = path.dirname(fileURLToPath(import.meta.url));

const tsconfig = JSON.parse(readFileSync(path.join(workspaceRoot, 'tsconfig.base.json'), 'utf8'));

/** The tsconfig `paths` (`@gateway/*`) as vite aliases, so tests import libs by their public door. */
export const alias = Object.fromEntries(
  Object.entries(tsconfig.compilerOptions.paths).map(([name, [target]]) => [name, path.join(workspaceRoot, target)]),
);

/**
 * @param {string} projectRoot absolute path of the project (the folder of its vitest.config.ts)
 * @param {{ include?: string[], testTimeout?: number, fileParallelism?: boolean }} [options]
 */
export function projectTestConfig(projectRoot, options = {}) {
  return {
    root: projectRoot,
    resolve: { alias },
    test: {
      include: options.include ?? ['src/**/*.spec.ts', 'test/**/*.spec.ts'],
      environment: 'node',
      // An empty suite is a failure, never a pass.
      passWithNoTests: false,
      // Loaded 2-core CI machines: generous waits, never timing assertions.
      testTimeout: options.testTimeout ?? 60_000,
      hookTimeout: 60_000,
      pool: 'forks',
      fileParallelism: options.fileParallelism ?? true,
      maxWorkers: 2,
      reporters: ['default', ['json', { outputFile: path.join(projectRoot, 'test-output/vitest.json') }]],
    },
  };
}
