// The engine as a user runs it: a process that prints one ready line with its ports and stops
// cleanly on SIGTERM/SIGINT. Exit code 0 proves the drain finished inside the hard limit
// (1.5 × SHUTDOWN_TIMEOUT_MS + 1 s, 7 s by default: main.ts exits 1 when it fires).
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { request } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';

const MAIN = fileURLToPath(new URL('../src/main.dev.mjs', import.meta.url));
const READY = /^engine ready: grpc ([\d.]+):(\d+) · http ([\d.]+):(\d+)/;

function startEngineProcess(extraEnv: Record<string, string> = {}): { child: ChildProcess; ready: Promise<number> } {
  const child = spawn(process.execPath, [MAIN], {
    env: { ...process.env, HTTP_PORT: '0', GRPC_PORT: '0', MARKET_DATA_WS_PORT: '0', LOG_LEVEL: 'warn', DATA_DIR: `tmp/engine-process-${process.pid}`, CONTRACTS: 'MNQ', ...extraEnv },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines = createInterface({ input: child.stdout! });
  const ready = new Promise<number>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`engine exited early with code ${code}`)));
    lines.on('line', (line) => {
      const m = READY.exec(line);
      if (m) resolve(Number(m[4]));
    });
  });
  return { child, ready };
}

function exitCode(child: ChildProcess): Promise<number | null> {
  return new Promise((resolve) => child.once('exit', (code) => resolve(code)));
}

describe('engine process', () => {
  let child: ChildProcess | undefined;
  afterEach(() => {
    if (child && child.exitCode === null) child.kill('SIGKILL');
  });

  it.each(['SIGTERM', 'SIGINT'] as const)('prints its ready line, serves /healthz, and exits 0 on %s', async (signal) => {
    const started = startEngineProcess();
    child = started.child;
    const port = await started.ready;
    const res = await request(`http://127.0.0.1:${port}/healthz`);
    expect(res.statusCode).toBe(200);
    await res.body.dump();
    const exited = exitCode(child);
    child.kill(signal);
    expect(await exited).toBe(0);
  }, 120_000);

  it('refuses a bad configuration with a message naming the variable', async () => {
    const bad = spawn(process.execPath, [MAIN], { env: { ...process.env, GRPC_PORT: 'seventy' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    bad.stderr!.on('data', (d) => (stderr += String(d)));
    expect(await exitCode(bad)).toBe(2);
    expect(stderr).toMatch(/GRPC_PORT/);
  }, 60_000);
});
