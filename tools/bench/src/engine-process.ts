// The engine under test: the COMPILED engine (dist/apps/engine/main.js, as `npm start` runs it) as a child
// process on free loopback ports, with its embedded simulator configured for benchmarks through SIM_*
// variables (the engine passes every SIM_* variable to its simulator child).
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';

/** Node flags of the engine, as `npm start` passes them (tools/scripts/start.mjs): keep the two in step. */
export const ENGINE_NODE_FLAGS = ['--max-semi-space-size=1', '--v8-pool-size=2'] as const;

export interface EngineProcess {
  pid: number;
  grpcAddress: string;
  httpUrl: string;
  /** The embedded simulator's base URL (REST /api, admin /admin). */
  simUrl: string;
  /** ws://host:port of the market-data fan-out. */
  marketDataWsUrl: string;
  child: ChildProcess;
  /** Last lines the engine printed (for error messages). */
  tail(): string;
  stop(): Promise<void>;
}

export interface EngineLaunch {
  root: string;
  /** Simulator trades per second per active contract (SIM_TRADES_PER_SECOND). */
  simTradesPerSecondPerContract: number;
  /** Extra environment (BENCH_ENGINE_ENV and per-scenario settings); wins over the defaults here. */
  env?: Record<string, string>;
  timeoutMs?: number;
}

/** Start-up (simulator child, login, workers, backfill) on a busy machine can take a while. */
const START_TIMEOUT_MS = 180_000;

/** `engine ready: grpc H:P · http H:P · market-data ws H:P · broker [embedded simulator ]URL` (ws part optional). */
export const READY = /engine ready: grpc (\S+):(\d+) · http (\S+):(\d+)(?: · market-data ws (\S+):(\d+))? · broker (?:embedded simulator )?(\S+)/;

/** A free loopback port: listen on 0, read it, close (for MARKET_DATA_WS_PORT; an engine printing its WS port wins). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

export async function startEngineProcess(launch: EngineLaunch): Promise<EngineProcess> {
  const wsPort = await freePort();
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'bench-engine-'));
  const env: Record<string, string | undefined> = {
    ...process.env,
    NODE_ENV: 'production',
    GRPC_PORT: '0',
    HTTP_PORT: '0',
    MARKET_DATA_WS_PORT: String(wsPort),
    DATA_DIR: dataDir,
    LOG_LEVEL: 'warn',
    BROKER_RATE_LIMIT: 'off',
    SIM_RATE_LIMITS: 'off',
    SIM_TRADES_PER_SECOND: String(launch.simTradesPerSecondPerContract),
    SIM_FAULTS: '',
    ...launch.env,
  };
  delete env['TOPSTEPX_API_URL'];
  const child = spawn(process.execPath, [...ENGINE_NODE_FLAGS, path.join(launch.root, 'dist/apps/engine/main.js')], {
    cwd: launch.root,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  const keep = (l: string): void => {
    lines.push(l.length > 400 ? `${l.slice(0, 400)}…` : l);
    if (lines.length > 30) lines.shift();
  };
  createInterface({ input: child.stderr! }).on('line', keep);
  const out = createInterface({ input: child.stdout! });
  let exited = false;
  const exitedP = new Promise<void>((resolve) =>
    child.once('exit', () => {
      exited = true;
      resolve();
    }),
  );
  const tail = (): string => lines.slice(-8).join('\n');
  const stop = async (): Promise<void> => {
    if (!exited) {
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 8000);
      await exitedP;
      clearTimeout(t);
    }
    rmSync(dataDir, { recursive: true, force: true });
  };
  try {
    const ready = await new Promise<RegExpExecArray>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`engine not ready within ${launch.timeoutMs ?? START_TIMEOUT_MS} ms`)), launch.timeoutMs ?? START_TIMEOUT_MS);
      child.once('exit', (code, sig) => {
        clearTimeout(timer);
        reject(new Error(`engine exited (${code ?? sig}) before it was ready:\n${tail()}`));
      });
      out.on('line', (l) => {
        const m = READY.exec(l);
        if (m) {
          clearTimeout(timer);
          resolve(m);
        } else keep(l);
      });
    });
    return {
      pid: child.pid!,
      grpcAddress: `${ready[1]}:${ready[2]}`,
      httpUrl: `http://${ready[3]}:${ready[4]}`,
      simUrl: ready[7]!.replace(/\/$/, ''),
      marketDataWsUrl: ready[5] ? `ws://${ready[5]}:${ready[6]}` : `ws://127.0.0.1:${wsPort}`,
      child,
      tail,
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}

/** GET <http>/metrics as text ('' when the engine does not answer). */
export async function scrapeMetrics(httpUrl: string): Promise<string> {
  try {
    const res = await fetch(`${httpUrl}/metrics`);
    return res.ok ? await res.text() : '';
  } catch {
    return '';
  }
}

/** One sample value of a Prometheus text exposition, by metric name and optional label filter. */
export function metricValue(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const m = /^([a-zA-Z_:][\w:]*)(\{[^}]*\})?\s+(\S+)/.exec(line);
    if (!m || m[1] !== name) continue;
    const lbl = m[2] ?? '';
    if (Object.entries(labels).every(([k, v]) => lbl.includes(`${k}="${v}"`))) return Number(m[3]);
  }
  return undefined;
}
