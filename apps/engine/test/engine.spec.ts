// The engine as one process: real worker threads, the piscina pool, the embedded simulator as a
// child process, real HTTP on port 0.
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BroadcastChannel } from 'node:worker_threads';
import { BROKER_TOKEN_CHANNEL, loadConfig } from '@gateway/runtime';
import { newMark } from '@gateway/shared-state';
import { startEngine, type RunningEngine } from '../src/engine';
import { silentLogger, waitFor } from './helpers';

const ENGINE_URL = new URL('../src/engine.ts', import.meta.url).href;

describe('engine', () => {
  let engine: RunningEngine;
  let base: string;

  beforeAll(async () => {
    const config = loadConfig({ HTTP_PORT: '0', GRPC_PORT: '0', MARKET_DATA_WS_PORT: '0', DATA_DIR: `tmp/engine-spec-${process.pid}`, CONTRACTS: 'MNQ,ES' });
    engine = await startEngine(config, ENGINE_URL, silentLogger());
    base = `http://127.0.0.1:${engine.httpPort}`;
  }, 120_000);

  afterAll(async () => {
    await engine?.stop();
  });

  it('reports every worker ready on /healthz', async () => {
    const res = await request(`${base}/healthz`);
    expect(res.statusCode).toBe(200);
    const body = (await res.body.json()) as { status: string; components: Record<string, boolean> };
    expect(body.status).toBe('ready');
    for (const component of ['market-data', 'risk-manager', 'order-executor']) expect(body.components[component]).toBe(true);
    expect(Object.values(body.components).every(Boolean)).toBe(true);
  });

  it('merges the metrics of the main thread and every worker, labelled by app', async () => {
    const res = await request(`${base}/metrics`);
    expect(res.statusCode).toBe(200);
    const text = await res.body.text();
    for (const app of ['engine', 'market-data', 'risk-manager', 'order-executor']) {
      expect(text).toMatch(new RegExp(`nodejs_heap_size_used_bytes\\{app="${app}"\\}`));
    }
  });

  it('registers the configured contracts and the account in shared memory', () => {
    const { state, contracts, accounts } = engine.runtime;
    expect(contracts.map((c) => c.root)).toEqual(['MNQ', 'ES']);
    for (const c of contracts) expect(state.directory.slotOf(c.contractId)).toBe(c.slot);
    expect(state.accounts.slotOf(accounts[0]!.accountId)).toBe(accounts[0]!.slot);
  });

  it('publishes a rotated broker token to the threads that hold hubs', async () => {
    const listener = new BroadcastChannel(BROKER_TOKEN_CHANNEL);
    try {
      const received = new Promise<string>((resolve) => {
        listener.onmessage = (ev) => resolve((ev as MessageEvent).data as string);
      });
      const before = engine.runtime.rest.token;
      await engine.runtime.rest.refreshToken();
      const rotated = await received;
      expect(rotated).toBe(engine.runtime.rest.token);
      expect(rotated).not.toBe(before);
    } finally {
      listener.close();
    }
  });

  it('restarts a killed worker; shared memory survives and /healthz is 200 again', async () => {
    const { state, contracts } = engine.runtime;
    const slot = contracts[0]!.slot;
    // Freeze the simulator's feed so that the live market-data thread leaves this mark alone; the
    // test writes it, kills the thread that owns the risk region, and checks the memory survived.
    const freeze = await request(`${engine.runtime.broker.apiUrl}/admin/faults`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ feedFrozen: true }),
    });
    expect(freeze.statusCode).toBe(200);
    await freeze.body.dump();
    state.marks.write(slot, { last: 21_000_250_000_000, bid: 21_000_000_000_000, ask: 21_000_500_000_000, lastTradeMs: 1_700_000_000_000, updatedMs: 1_700_000_000_000 });
    const before = newMark();
    state.marks.read(slot, before);

    const restarted = new Promise<void>((resolve) => engine.supervisor.once('ready', () => resolve()));
    await engine.supervisor.kill('risk-manager');
    await waitFor(async () => (await request(`${base}/healthz`)).statusCode === 503 || engine.supervisor.status().find((s) => s.app === 'risk-manager')!.restarts > 0, 30_000);
    await restarted;
    await waitFor(async () => (await request(`${base}/healthz`)).statusCode === 200, 60_000);

    const after = newMark();
    state.marks.read(slot, after);
    expect(after).toEqual(before);
    expect(engine.supervisor.status().find((s) => s.app === 'risk-manager')!.restarts).toBe(1);
  }, 120_000);

  it('marks every contract stale the moment the market-data thread dies, before its restart', async () => {
    const { state, contracts } = engine.runtime;
    const thaw = await request(`${engine.runtime.broker.apiUrl}/admin/faults`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ feedFrozen: false }),
    });
    expect(thaw.statusCode).toBe(200);
    await thaw.body.dump();
    await waitFor(() => contracts.every((c) => !state.marks.isStale(c.slot)), 60_000);
    // Read at the exit event, after the engine's own listener (registered at start) and before any restart.
    const atExit = new Promise<boolean[]>((resolve) => {
      const onExit = (app: string): void => {
        if (app !== 'market-data') return;
        engine.supervisor.off('exit', onExit);
        resolve(contracts.map((c) => state.marks.isStale(c.slot)));
      };
      engine.supervisor.on('exit', onExit);
    });
    await engine.supervisor.kill('market-data');
    expect(await atExit).toEqual(contracts.map(() => true));
    await waitFor(async () => (await request(`${base}/healthz`)).statusCode === 200, 60_000);
    await waitFor(() => contracts.every((c) => !state.marks.isStale(c.slot)), 60_000);
  }, 180_000);
});
