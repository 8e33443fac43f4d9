// Proves the architecture rules are live: ESLint with @nx/enforce-module-boundaries, run on probe
// sources placed (virtually) inside real projects, must reject an app importing another app and a
// pure lib importing an I/O package, and must accept the allowed direction.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ESLint } from 'eslint';
import { describe, expect, it } from 'vitest';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const eslint = new ESLint({ cwd: root });

async function boundaryErrors(file: string, code: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath: path.join(root, file) });
  return result!.messages.filter((m) => m.ruleId === '@nx/enforce-module-boundaries' || m.ruleId === 'no-restricted-imports').map((m) => m.message);
}

describe('module boundaries', () => {
  it('an app importing another app fails lint', async () => {
    const errors = await boundaryErrors(
      'apps/engine/src/boundary-probe.ts',
      "import { createApp } from '../../market-data/src/app';\nexport const probe = createApp;\n",
    );
    expect(errors.length).toBeGreaterThan(0);
  }, 120_000);

  it('a pure domain lib importing an I/O package fails lint', async () => {
    const errors = await boundaryErrors('libs/risk/src/boundary-probe.ts', "import { WebSocket } from 'ws';\nexport const probe = WebSocket;\n");
    expect(errors.join('\n')).toMatch(/ws/);
    const fsErrors = await boundaryErrors('libs/bars/src/boundary-probe.ts', "import { readFileSync } from 'node:fs';\nexport const probe = readFileSync;\n");
    expect(fsErrors.length).toBeGreaterThan(0);
  }, 120_000);

  it('a domain lib importing an I/O lib fails lint', async () => {
    const errors = await boundaryErrors('libs/risk/src/boundary-probe.ts', "import { loadConfig } from '@gateway/runtime';\nexport const probe = loadConfig;\n");
    expect(errors.length).toBeGreaterThan(0);
  }, 120_000);

  it('an app importing a lib through its public door passes', async () => {
    const errors = await boundaryErrors('apps/engine/src/boundary-probe.ts', "import { loadConfig } from '@gateway/runtime';\nexport const probe = loadConfig;\n");
    expect(errors).toEqual([]);
  }, 120_000);
});
