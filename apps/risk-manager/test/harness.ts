// Acceptance harness: an in-process simulator with a movable clock and price, the engine's bootstrap
// (login, contracts, account, shared memory) against it, the real risk-manager worker under a
// WorkerSupervisor, and the test thread playing market-data (it writes the marks the worker reads).
import { fileURLToPath } from 'node:url';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bootstrapRuntime, createLogger, loadConfig, WorkerSupervisor, type RuntimeBootstrap } from '@gateway/runtime';
import { createSimulator, type Simulator } from '@gateway/topstepx-sim';
import { clearRiskReadyOnExit } from '@gateway/front-door';
import { RiskGate } from '@gateway/risk-gate';
import { newAccountRecord, newPositionRecord, PRICE_SCALE, Side, type AccountRecord, type PositionRecord } from '@gateway/shared-state';
import type { RiskEvent } from '@gateway/risk';

const WORKER = fileURLToPath(new URL('../src/worker.dev.mjs', import.meta.url));
/** Wednesday 2026-12-02 10:00 CT (16:00 UTC, CST): in session, before 15:10 CT. */
export const T0 = Date.UTC(2026, 11, 2, 16, 0, 0);
export const DAY_MS = 86_400_000;
export const ACCOUNT_ID = 1001;

export interface Harness {
  sim: Simulator;
  runtime: RuntimeBootstrap;
  supervisor: WorkerSupervisor;
  gate: RiskGate;
  contractId: string;
  contractSlot: number;
  accountSlot: number;
  events: RiskEvent[];
  now(): number;
  /** Moves the simulator's and the risk-manager's clocks to `ms`. */
  setNow(ms: number): Promise<void>;
  /** A trade at `price` (dollars) at the simulator, and the mark in shared memory. */
  move(price: number): void;
  account(): AccountRecord;
  position(): PositionRecord;
  /** Orders still working at the broker (Open, Pending, PendingCancellation, Suspended). */
  workingAtBroker(): number;
  brokerNet(): number;
  /** The gate's answer to a BUY entry of `size` (released at once when allowed): 'ALLOWED' or the denial reason. */
  entry(size?: number): string;
  market(side: 0 | 1, size: number): Promise<number>;
  close(): Promise<void>;
}

export async function waitFor<T>(what: string, probe: () => T | undefined | false, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = probe();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/**
 * `env`: config on top of the harness's, or a function of the simulator giving it (e.g. a proxy in front of its
 * REST API). `startMs`: where the simulator's and the worker's clocks start (default T0).
 */
export async function startHarness(env: Record<string, string> | ((sim: Simulator) => Promise<Record<string, string>>) = {}, startMs = T0): Promise<Harness> {
  const offset = { ms: startMs - Date.now() };
  const now = (): number => Date.now() + offset.ms;
  const sim = await createSimulator({
    clock: now,
    market: { tradesPerSecond: 0 },
    rateLimits: false,
    tokenLifetimeMs: 30 * DAY_MS,
    accounts: [{ id: ACCOUNT_ID, name: 'S1-50K-DEMO', balance: 50_000 }],
  });
  const dataDir = mkdtempSync(join(tmpdir(), 'risk-manager-'));
  const level = process.env['RISK_TEST_LOG'] ?? 'silent';
  const config = loadConfig({
    TOPSTEPX_API_URL: sim.url,
    TOPSTEPX_USERNAME: 'demo',
    TOPSTEPX_API_KEY: 'demo-key',
    CONTRACTS: 'MNQ',
    DATA_DIR: dataDir,
    LOG_LEVEL: level,
    RISK_TEST_CLOCK: 'true',
    RISK_CLOCK_OFFSET_MS: String(offset.ms),
    RISK_EVAL_INTERVAL_MS: '50',
    ...(typeof env === 'function' ? await env(sim) : env),
  });
  const logger = createLogger({ app: 'risk-test', thread: 'main', level });
  const runtime = await bootstrapRuntime(config, logger, import.meta.url);
  const contract = runtime.contracts[0]!;
  const account = runtime.accounts[0]!;
  const supervisor = new WorkerSupervisor([{ app: 'risk-manager', file: WORKER, workerData: runtime.workerInit('risk-manager') }], { logger });
  clearRiskReadyOnExit(supervisor, runtime.state, [account.slot]);
  const events: RiskEvent[] = [];
  supervisor.on('event', (_app: string, topic: string, payload: unknown) => {
    if (topic === 'risk.event') events.push(payload as RiskEvent);
  });
  await supervisor.start();
  const state = runtime.state;
  const h: Harness = {
    sim,
    runtime,
    supervisor,
    gate: new RiskGate(state, { clock: now }),
    contractId: contract.contractId,
    contractSlot: contract.slot,
    accountSlot: account.slot,
    events,
    now,
    async setNow(ms) {
      offset.ms = ms - Date.now();
      await supervisor.request('risk-manager', 'setClockOffset', { offsetMs: offset.ms });
    },
    move(price) {
      sim.setPrice(contract.contractId, price);
      const t = now();
      state.marks.writeTrade(contract.slot, Math.round(price * PRICE_SCALE), t, t);
      state.marks.setStale(contract.slot, false);
    },
    account: () => state.accounts.readAccount(account.slot, newAccountRecord()),
    position: () => state.accounts.readPosition(account.slot, contract.slot, newPositionRecord()),
    workingAtBroker: () => sim.orders(ACCOUNT_ID).filter((o) => [1, 6, 7, 8].includes(o['status'] as number)).length,
    brokerNet: () => sim.positions(ACCOUNT_ID).reduce((n, p) => n + (p['type'] === 2 ? -(p['size'] as number) : (p['size'] as number)), 0),
    entry(size = 1) {
      const r = this.gate.check({ accountSlot: account.slot, contractSlot: contract.slot, side: Side.BUY, size });
      if (r.allowed) this.gate.release(r.reservation);
      return r.allowed ? 'ALLOWED' : r.reason;
    },
    market: (side, size) => runtime.rest.placeOrder({ accountId: ACCOUNT_ID, contractId: contract.contractId, type: 2, side, size }),
    async close() {
      await supervisor.stop(4000);
      await runtime.close();
      await sim.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
  return h;
}
