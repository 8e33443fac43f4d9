import nx from '@nx/eslint-plugin';

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
