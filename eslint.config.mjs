import nx from '@nx/eslint-plugin';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));

// Folders of the pure projects (tagged type:domain or type:state), read from their project.json so
// a new pure lib is covered without editing this file.
const PURE_ROOTS = ['libs', 'apps', 'tools'].flatMap((top) =>
  existsSync(path.join(here, top))
    ? readdirSync(path.join(here, top))
        .map((name) => `${top}/${name}`)
        .filter((dir) => {
          const file = path.join(here, dir, 'project.json');
          if (!existsSync(file)) return false;
          const tags = JSON.parse(readFileSync(file, 'utf8')).tags ?? [];
          return tags.includes('type:domain') || tags.includes('type:state');
        })
    : [],
);

// Architecture as lint rules (house style §2): every project carries a scope and a type tag.
//   type:app     a deployable (engine, the three services, the simulator): wires libs, imports no app
//   type:io      a lib that does I/O (broker client, runtime: config, logging, metrics, worker protocol)
//   type:domain  pure, deterministic logic: no sockets, files, threads or clocks of its own
//   type:state   the shared-memory layout (Atomics only; no I/O)
//   type:tool    benchmarks and scripts
const IO_PACKAGES = [
  'ws',
  'undici',
  '@grpc/grpc-js',
  '@grpc/proto-loader',
  'piscina',
  'pino',
  'prom-client',
  'node:worker_threads',
  'worker_threads',
  'node:fs',
  'fs',
  'node:fs/promises',
  'fs/promises',
  'node:net',
  'net',
  'node:http',
  'http',
  'node:child_process',
  'child_process',
];

const depConstraints = (banIo) => [
  { sourceTag: 'type:app', onlyDependOnLibsWithTags: ['type:io', 'type:domain', 'type:state'] },
  { sourceTag: 'type:tool', onlyDependOnLibsWithTags: ['type:io', 'type:domain', 'type:state'] },
  { sourceTag: 'type:io', onlyDependOnLibsWithTags: ['type:io', 'type:domain', 'type:state'] },
  {
    sourceTag: 'type:domain',
    onlyDependOnLibsWithTags: ['type:domain', 'type:state'],
    ...(banIo ? { bannedExternalImports: IO_PACKAGES } : {}),
  },
  {
    sourceTag: 'type:state',
    onlyDependOnLibsWithTags: ['type:domain'],
    ...(banIo ? { bannedExternalImports: IO_PACKAGES } : {}),
  },
];

export default [
  ...nx.configs['flat/base'],
  ...nx.configs['flat/typescript'],
  ...nx.configs['flat/javascript'],
  {
    ignores: ['**/vitest.config.ts', '**/dist', '**/node_modules', '**/test-output', '**/*.generated.ts', '**/generated/**', 'tmp', '.nx'],
  },
  {
    files: ['**/*.ts', '**/*.mts', '**/*.js', '**/*.mjs'],
    rules: {
      '@nx/enforce-module-boundaries': [
        'error',
        { enforceBuildableLibDependency: false, allow: [], depConstraints: depConstraints(true) },
      ],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/no-non-null-assertion': 'off',
    },
  },
  {
    // Node built-ins are not in the project graph, so bannedExternalImports cannot see them: ban the
    // I/O built-ins (and the I/O packages again, for a clear message) in pure sources directly.
    files: PURE_ROOTS.map((dir) => `${dir}/src/**/*.ts`),
    ignores: ['**/*.spec.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        { paths: IO_PACKAGES.map((name) => ({ name, message: 'pure libs do no I/O: inject the capability instead' })) },
      ],
      'no-restricted-globals': ['error', { name: 'process', message: 'pure libs never read the environment or the process' }],
      'no-restricted-properties': [
        'error',
        { object: 'Date', property: 'now', message: 'pure libs take time from an injected clock' },
        { object: 'Math', property: 'random', message: 'pure libs take randomness from a seeded generator' },
      ],
    },
  },
  {
    // Tests of pure libs may spawn threads and touch files (seeded multi-thread tests, replay files);
    // the lib's own sources may not.
    files: ['**/*.spec.ts', '**/test/**/*.ts', '**/test/**/*.mjs', '**/vitest.config.ts'],
    rules: {
      '@nx/enforce-module-boundaries': [
        'error',
        { enforceBuildableLibDependency: false, allow: [], depConstraints: depConstraints(false) },
      ],
    },
  },
];
