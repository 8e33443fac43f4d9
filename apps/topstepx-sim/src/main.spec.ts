import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';

const main = fileURLToPath(new URL('./main.ts', import.meta.url));
const tsconfig = fileURLToPath(new URL('../../../tsconfig.base.json', import.meta.url));
const children: ChildProcess[] = [];
afterEach(() => {
  for (const c of children.splice(0)) if (c.exitCode === null) c.kill('SIGKILL');
});

function run(env: Record<string, string>): { child: ChildProcess; output: () => string; exited: Promise<number | null> } {
  const child = spawn(process.execPath, ['--import', 'tsx', main], {
    env: { ...process.env, TSX_TSCONFIG_PATH: tsconfig, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, output: () => out, exited };
}

async function waitForLine(output: () => string, re: RegExp, ms = 45_000): Promise<RegExpMatchArray> {
  const deadline = Date.now() + ms;
  for (;;) {
    const m = re.exec(output());
    if (m) return m;
    if (Date.now() > deadline) throw new Error(`no ready line; output so far: ${output()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('topstepx-sim main', () => {
  it('listens on SIM_PORT=0, prints the actual port, serves the API and exits 0 on SIGTERM', async () => {
    const p = run({ SIM_PORT: '0', SIM_RATE_LIMITS: 'off', SIM_TRADES_PER_SECOND: '0', SIM_USERNAME: 'u1', SIM_API_KEY: 'k1' });
    const m = await waitForLine(p.output, /topstepx-sim listening on (http:\/\/127\.0\.0\.1:(\d+))\n/);
    expect(Number(m[2])).toBeGreaterThan(0);
    const ping = await fetch(`${m[1]}/api/Status/ping`);
    expect(await ping.text()).toBe('pong');
    const login = await fetch(`${m[1]}/api/Auth/loginKey`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ userName: 'u1', apiKey: 'k1' }),
    });
    expect(((await login.json()) as { success: boolean }).success).toBe(true);
    p.child.kill('SIGTERM');
    expect(await p.exited).toBe(0);
  });

  it('exits 1 naming the variable on a bad value', async () => {
    const p = run({ SIM_PORT: 'abc' });
    expect(await p.exited).toBe(1);
    expect(p.output()).toContain('SIM_PORT');
  });
});
