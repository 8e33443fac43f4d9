// The embedded default broker: when TOPSTEPX_API_URL is unset the engine (or an app running alone)
// starts the TopStepX Gateway simulator as a child process on a free loopback port and trades
// against it. A child process keeps the engine exactly as it runs against the real broker: its
// memory and CPU are its own, and a simulator fault cannot take the engine down.
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import type { Logger } from 'pino';
import { withTimeout } from './worker-protocol';

export interface EmbeddedSimulator {
  url: string;
  port: number;
  child: ChildProcess;
  stop(): Promise<void>;
}

const READY_LINE = /topstepx-sim listening on (http:\/\/[^\s]+)/;

export async function startEmbeddedSimulator(options: {
  entry: string;
  env: Readonly<Record<string, string>>;
  logger: Logger;
  timeoutMs?: number;
}): Promise<EmbeddedSimulator> {
  const child = spawn(process.execPath, [options.entry], {
    env: {
      ...process.env,
      SIM_HOST: '127.0.0.1',
      SIM_PORT: '0',
      ...options.env,
      // The simulator exits when its stdin closes, so it never outlives an engine that was killed -9.
      SIM_EXIT_ON_STDIN_CLOSE: '1',
    },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const log = options.logger.child({ child: 'topstepx-sim', pid: child.pid });
  const stderr = createInterface({ input: child.stderr! });
  stderr.on('line', (line) => log.warn({ line }, 'simulator stderr'));
  const stdout = createInterface({ input: child.stdout! });
  const url = await withTimeout(
    new Promise<string>((resolve, reject) => {
      child.once('exit', (code) => reject(new Error(`simulator exited with code ${code} before it was ready`)));
      child.once('error', reject);
      stdout.on('line', (line) => {
        const m = READY_LINE.exec(line);
        if (m) resolve(m[1]!);
        else log.debug({ line }, 'simulator');
      });
    }),
    options.timeoutMs ?? 60_000,
    'simulator start',
  );
  const port = Number(new URL(url).port);
  log.info({ url }, 'embedded simulator ready');
  let exited = false;
  child.once('exit', () => {
    exited = true;
  });
  return {
    url,
    port,
    child,
    async stop() {
      if (exited) return;
      const done = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      child.kill('SIGTERM');
      try {
        await withTimeout(done, 2000, 'simulator stop');
      } catch {
        child.kill('SIGKILL');
      }
    },
  };
}
