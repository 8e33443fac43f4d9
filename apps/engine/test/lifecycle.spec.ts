// The engine's life cycle around in-flight orders, as processes: SIGTERM while an order is at the
// broker (each door still answers it, within SHUTDOWN_TIMEOUT_MS), and two engines on one DATA_DIR
// (the second refuses to start, so a client_order_id is never placed twice).
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { createInterface } from 'node:readline';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { request } from 'undici';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { CUSTOM_TAG_PREFIX } from '@gateway/orders';
import { credentials } from '@grpc/grpc-js';
import { health, orders } from '@gateway/proto';
import { createSimulator, type Simulator } from '@gateway/topstepx-sim';
import { spawnEngineChild, tradingHoursEnv, waitFor, type EngineChild } from './helpers';
import { call, orderRequest, ordersClient, type OrdersClient } from './orders-helpers';

const ROOT = resolve(fileURLToPath(new URL('../../..', import.meta.url)));
const MAIN = fileURLToPath(new URL('../src/main.dev.mjs', import.meta.url));
const READY = /^engine ready: grpc ([\d.]+):(\d+) · http ([\d.]+):(\d+)/;

type Started = EngineChild;

const children: ChildProcess[] = [];
const clients: OrdersClient[] = [];

function exited(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((done) => child.once('exit', (code) => done(code)));
}

/** `npm start`'s engine (main.ts, its signal handlers and hard stop limit) against its embedded simulator. */
function startMain(dataDir: string, env: Record<string, string>): Promise<Started> {
  const child = spawn(process.execPath, [MAIN], {
    cwd: ROOT,
    env: { ...process.env, HTTP_PORT: '0', GRPC_PORT: '0', MARKET_DATA_WS_PORT: '0', LOG_LEVEL: 'warn', DATA_DIR: dataDir, CONTRACTS: 'MNQ', EXECUTOR_THREADS: '1', ...tradingHoursEnv(), ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  children.push(child);
  const lines = createInterface({ input: child.stdout! });
  return new Promise((done, reject) => {
    const timer = setTimeout(() => reject(new Error('engine did not print its ready line within 120 s')), 120_000);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`engine exited early with code ${code}`));
    });
    lines.on('line', (line) => {
      const m = READY.exec(line);
      if (!m) return;
      clearTimeout(timer);
      done({ child, grpcPort: Number(m[2]), httpPort: Number(m[4]) });
    });
  });
}

/** The engine as the crash tests run it (startEngine without main.ts) against the test's simulator. */
function startChild(dataDir: string, simUrl: string): Promise<Started> {
  return spawnEngineChild({ simUrl, dataDir, onSpawn: (child) => children.push(child) });
}

async function healthy(httpPort: number): Promise<void> {
  await waitFor(
    async () => {
      const res = await request(`http://127.0.0.1:${httpPort}/healthz`);
      await res.body.dump();
      return res.statusCode === 200;
    },
    120_000,
    'engine /healthz 200',
  );
}

/** True once an intent is on disk: the order is past the journal and on its way to the broker. */
function intentWritten(dataDir: string): boolean {
  if (!existsSync(dataDir)) return false;
  return readdirSync(dataDir)
    .filter((n) => /^journal-.+\.jsonl$/.test(n))
    .some((n) => readFileSync(join(dataDir, n), 'utf8').includes('"t":"intent"'));
}

afterEach(() => {
  for (const c of clients.splice(0)) c.close();
});

afterAll(async () => {
  for (const c of children) {
    if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    await exited(c);
  }
});

describe('SIGTERM with an order at the broker', () => {
  const dataDir = join(ROOT, 'tmp', `lifecycle-sigterm-${process.pid}`);
  beforeAll(() => rmSync(dataDir, { recursive: true, force: true }));
  afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

  it('answers a REST PlaceOrder that was in flight, then exits 0', async () => {
    const dir = join(dataDir, 'rest');
    const engine = await startMain(dir, { SIM_FAULTS: JSON.stringify({ latencyByEndpoint: { 'Order/place': 1500 } }) });
    await healthy(engine.httpPort);
    const answer = request(`http://127.0.0.1:${engine.httpPort}/api/go/orders/place`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ symbol: 'MNQ', side: 'BUY', quantity: 1, strategyName: 'lifecycle', clientOrderId: 'sigterm-rest' }),
    }).then(
      async (res) => ({ status: res.statusCode, body: (await res.body.json()) as { success?: boolean; clientOrderId?: string } }),
      (err: Error) => ({ status: 0, body: { error: err.message } }),
    );
    await waitFor(() => intentWritten(dir), 30_000, 'the order intent on disk');
    const code = exited(engine.child);
    engine.child.kill('SIGTERM');
    const res = await answer;
    expect(res).toMatchObject({ status: 200, body: { success: true, clientOrderId: 'sigterm-rest' } });
    expect(await code).toBe(0);
  }, 180_000);

  it('reports NOT_SERVING and /healthz 503 from the start of the drain, while the order in flight is still answered', async () => {
    const dir = join(dataDir, 'health');
    const engine = await startMain(dir, {
      SHUTDOWN_TIMEOUT_MS: '20000',
      SIM_FAULTS: JSON.stringify({ latencyByEndpoint: { 'Order/place': 1500 } }),
    });
    await healthy(engine.httpPort);
    const SERVING = health.HealthCheckResponse_ServingStatus.SERVING;
    const NOT_SERVING = health.HealthCheckResponse_ServingStatus.NOT_SERVING;
    const healthClient = new health.HealthClient(`127.0.0.1:${engine.grpcPort}`, credentials.createInsecure());
    const watched: Record<string, number[]> = { '': [], 'orders.OrderService': [] };
    for (const service of Object.keys(watched)) {
      const watch = healthClient.watch({ service });
      watch.on('data', (m: health.HealthCheckResponse) => watched[service]!.push(m.status));
      watch.on('error', () => undefined);
    }
    try {
      await waitFor(() => Object.values(watched).every((seen) => seen[seen.length - 1] === SERVING), 30_000, 'both health watches SERVING');
      // A probe on a connection the drain cannot close as idle: its request has begun, its headers are not complete.
      const probe = connect(engine.httpPort, '127.0.0.1');
      let text = '';
      probe.on('data', (b: Buffer) => (text += b.toString('utf8')));
      const probeClosed = new Promise<void>((resolve) => probe.on('close', () => resolve()));
      probe.write('GET /healthz HTTP/1.1\r\nHost: engine\r\n');
      const answer = request(`http://127.0.0.1:${engine.httpPort}/api/go/orders/place`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ symbol: 'MNQ', side: 'BUY', quantity: 1, strategyName: 'lifecycle', clientOrderId: 'sigterm-health' }),
      }).then(
        async (res) => ({ status: res.statusCode, body: (await res.body.json()) as { success?: boolean } }),
        (err: Error) => ({ status: 0, body: { error: err.message } }),
      );
      await waitFor(() => intentWritten(dir), 30_000, 'the order intent on disk');
      const code = exited(engine.child);
      engine.child.kill('SIGTERM');
      await waitFor(() => Object.values(watched).every((seen) => seen.includes(NOT_SERVING)), 30_000, 'both health watches NOT_SERVING');
      expect(watched['orders.OrderService']!.slice(-1)).toEqual([NOT_SERVING]);
      // The drain has begun: the probe's request completes now.
      probe.write('\r\n');
      await probeClosed;
      expect([...text.matchAll(/HTTP\/1\.1 (\d{3})/g)].map((m) => Number(m[1]))).toEqual([503]);
      expect(text).toContain('"status":"stopping"');
      expect(await answer).toMatchObject({ status: 200, body: { success: true } });
      expect(await code).toBe(0);
    } finally {
      healthClient.close();
    }
  }, 180_000);

  it('drains for SHUTDOWN_TIMEOUT_MS, not a fixed 5 s: a gRPC order 6.5 s at the broker is answered and the exit is 0', async () => {
    const dir = join(dataDir, 'grpc');
    const engine = await startMain(dir, {
      SHUTDOWN_TIMEOUT_MS: '20000',
      SIM_FAULTS: JSON.stringify({ latencyByEndpoint: { 'Order/place': 6500 } }),
    });
    await healthy(engine.httpPort);
    const client = ordersClient(engine.grpcPort);
    clients.push(client);
    const answer = call<orders.OrderRequest, orders.OrderResponse>(client, 'placeOrder', orderRequest({ clientOrderId: 'sigterm-grpc' }), 60_000);
    await waitFor(() => intentWritten(dir), 30_000, 'the order intent on disk');
    const code = exited(engine.child);
    engine.child.kill('SIGTERM');
    const res = await answer;
    expect(res.ok && res.value.success).toBe(true);
    expect(await code).toBe(0);
  }, 180_000);
});

describe('two engines on one DATA_DIR', () => {
  const dataDir = join(ROOT, 'tmp', `lifecycle-shared-${process.pid}`);
  let sim: Simulator;
  beforeAll(async () => {
    rmSync(dataDir, { recursive: true, force: true });
    mkdirSync(dataDir, { recursive: true });
    sim = await createSimulator({ rateLimits: false, seed: 5 });
  }, 60_000);
  afterAll(async () => {
    for (const c of children) {
      if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
      await exited(c);
    }
    await sim?.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  const ours = (): unknown[] =>
    (sim.orders(1001) as unknown as Array<{ customTag?: unknown }>).filter((o) => typeof o.customTag === 'string' && o.customTag.startsWith(CUSTOM_TAG_PREFIX));

  it('the second refuses to start while the first runs, so a client_order_id is placed once', async () => {
    const first = await startChild(dataDir, sim.url);
    await healthy(first.httpPort);
    const c1 = ordersClient(first.grpcPort);
    clients.push(c1);

    // A second engine on the same DATA_DIR (a failover started too early, two containers on one volume)
    // replays the journal once, at its start: an order the first places afterwards is unknown to it.
    let refusal = '';
    const second = await startChild(dataDir, sim.url).then(
      (s) => s,
      (err: Error) => {
        refusal = err.message;
        return undefined;
      },
    );
    const placed = await call<orders.OrderRequest, orders.OrderResponse>(c1, 'placeOrder', orderRequest({ clientOrderId: 'shared-dir-1' }));
    expect(placed.ok && placed.value.success).toBe(true);
    if (second) {
      await healthy(second.httpPort);
      const c2 = ordersClient(second.grpcPort);
      clients.push(c2);
      // Its tag counters start where the first's did: the same tag within one second is refused by the
      // broker ("custom tag already in use"), so the repeat goes in the next second, as a real retry would.
      const second0 = Math.floor(Date.now() / 1000);
      await waitFor(() => Math.floor(Date.now() / 1000) > second0, 5_000, 'the next second');
      await call<orders.OrderRequest, orders.OrderResponse>(c2, 'placeOrder', orderRequest({ clientOrderId: 'shared-dir-1' }));
    }
    expect(ours()).toHaveLength(1);
    expect(second).toBeUndefined();
    expect(refusal).toMatch(/another engine is running on it/);

    // The first engine still serves, and once it has stopped the directory is free again.
    const again = await call<orders.OrderRequest, orders.OrderResponse>(c1, 'placeOrder', orderRequest({ clientOrderId: 'shared-dir-1' }));
    expect(again.ok && again.value.duplicate).toBe(true);
    const code = exited(first.child);
    first.child.kill('SIGTERM');
    expect(await code).toBe(0);
    const third = await startChild(dataDir, sim.url);
    await healthy(third.httpPort);
    const c3 = ordersClient(third.grpcPort);
    clients.push(c3);
    const replayed = await call<orders.OrderRequest, orders.OrderResponse>(c3, 'placeOrder', orderRequest({ clientOrderId: 'shared-dir-1' }));
    expect(replayed.ok && replayed.value.duplicate).toBe(true);
    expect(ours()).toHaveLength(1);
  }, 300_000);
});
