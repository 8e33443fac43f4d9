import { spawn, type ChildProcess } from 'node:child_process';
import { resolve } from 'node:path';
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { tradingHoursEnv } from '@gateway/front-door/testing';
import { createLogger, type Logger } from '@gateway/runtime';

/** A real pino logger that writes nowhere (tests assert on behaviour, not log lines). */
export function silentLogger(): Logger {
  return createLogger({ app: 'engine', thread: 'main', level: 'warn', destination: new Writable({ write: (_c, _e, cb) => cb() }) });
}

/** Poll until the condition holds; fails after timeoutMs. Never a fixed sleep. */
export async function waitFor(cond: () => boolean | Promise<boolean>, timeoutMs: number, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      if (await cond()) return;
    } catch {
      // not yet
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * Environment that keeps the engine's risk clock inside trading hours for tests that open positions (CI may run in
 * the 15:08–17:00 CT window or at the weekend): the one helper of the order-path specs.
 */
export { tradingHoursEnv };

const ROOT = resolve(fileURLToPath(new URL('../../..', import.meta.url)));
const ENGINE_CHILD = fileURLToPath(new URL('./fixtures/engine-child.mjs', import.meta.url));

export interface EngineChild {
  child: ChildProcess;
  grpcPort: number;
  httpPort: number;
}

/**
 * The environment every engine of the specs starts from: the test's simulator as the broker, account 1001, MNQ, one
 * executor thread, ports 0, warn logs, the risk clock inside trading hours.
 */
export function testEngineEnv(simUrl: string, dataDir: string): Record<string, string> {
  return {
    TOPSTEPX_API_URL: simUrl,
    TOPSTEPX_USERNAME: 'demo',
    TOPSTEPX_API_KEY: 'demo-key',
    TOPSTEPX_ACCOUNT_ID: '1001',
    HTTP_PORT: '0',
    GRPC_PORT: '0',
    MARKET_DATA_WS_PORT: '0',
    DATA_DIR: dataDir,
    CONTRACTS: 'MNQ',
    EXECUTOR_THREADS: '1',
    LOG_LEVEL: 'warn',
    ...tradingHoursEnv(),
  };
}

/**
 * The engine as the crash and life-cycle tests run it (fixtures/engine-child.mjs: startEngine without main.ts)
 * against the test's simulator, account 1001, MNQ, one executor thread, ports 0. Resolves with its ports once it
 * printed them; rejects (with its stderr) if it exits first. `onSpawn` sees the child at once, for clean-up.
 */
export function spawnEngineChild(o: { simUrl: string; dataDir: string; env?: Record<string, string>; onSpawn?: (child: ChildProcess) => void }): Promise<EngineChild> {
  const child = spawn(process.execPath, [ENGINE_CHILD], {
    cwd: ROOT,
    env: { ...process.env, ...testEngineEnv(o.simUrl, o.dataDir), ...o.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  o.onSpawn?.(child);
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
  return new Promise((done, reject) => {
    let buf = '';
    const timer = setTimeout(() => reject(new Error('engine child did not report its ports within 120 s')), 120_000);
    child.stdout!.on('data', (chunk: Buffer) => {
      buf += chunk.toString('utf8');
      const m = /ENGINE_PORTS (\{.*\})/.exec(buf);
      if (!m) return;
      clearTimeout(timer);
      done({ child, ...(JSON.parse(m[1]!) as { grpcPort: number; httpPort: number }) });
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`engine child exited early with code ${code}: ${stderr}`));
    });
  });
}

/** SIGKILL (kill -9) of an engine child; resolves once it has exited (at once if it already had). */
export function kill(child: ChildProcess): Promise<void> {
  return new Promise((done) => {
    if (child.exitCode !== null || child.signalCode !== null) return done();
    child.once('exit', () => done());
    child.kill('SIGKILL');
  });
}
