// The README's first command: `npm start` runs tools/scripts/start.mjs, which builds (Nx caches it)
// and runs the compiled engine against the embedded simulator. It must print one ready line with its
// ports, serve /healthz, and exit 0 on SIGTERM (the script forwards the signal and exits with the
// engine's code). The script is run directly: npm itself dies by the signal instead of reporting it.
import { spawn } from 'node:child_process';
import { rmSync } from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { request } from 'undici';
import { describe, expect, it } from 'vitest';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const READY = /^engine ready: grpc [\d.]+:(\d+) · http [\d.]+:(\d+) · market-data ws [\d.]+:(\d+) · broker embedded simulator/;

describe('npm start', () => {
  it('builds, runs the compiled engine, serves /healthz and stops cleanly', async () => {
    const dataDir = `tmp/npm-start-${process.pid}`;
    const child = spawn(process.execPath, [path.join(root, 'tools/scripts/start.mjs')], {
      cwd: root,
      env: { ...process.env, HTTP_PORT: '0', GRPC_PORT: '0', MARKET_DATA_WS_PORT: '0', LOG_LEVEL: 'warn', DATA_DIR: dataDir },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr!.on('data', (d) => (stderr += String(d)));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    try {
      const httpPort = await new Promise<number>((resolve, reject) => {
        child.once('exit', (code) => reject(new Error(`npm start exited with ${code} before ready: ${stderr}`)));
        createInterface({ input: child.stdout! }).on('line', (line) => {
          const m = READY.exec(line);
          if (m) resolve(Number(m[2]));
        });
      });
      const res = await request(`http://127.0.0.1:${httpPort}/healthz`);
      expect(res.statusCode).toBe(200);
      const body = (await res.body.json()) as { status: string };
      expect(body.status).toBe('ready');
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
      await exited;
      rmSync(path.join(root, dataDir), { recursive: true, force: true });
    }
  }, 300_000);
});
