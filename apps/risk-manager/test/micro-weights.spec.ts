// Position weight of the micros Topstep weighs differently (review finding). topstepx-api.md §11 (TopstepX Micros and
// Minis, intercom.help/topstep-llc/en/articles/9221977): "10 micros = 1 mini in Combine and XFA; Micro
// Silver/Bitcoin/Ether weighted differently" — their weight is not published. The engine counted MBT, MET and SIL as
// 1/10 of a mini like MES, so the gate admitted up to 10× Topstep's maximum if their weight is a full lot. They now
// count as full lots (the conservative choice, the weight table of @gateway/risk), in both places that resolve a
// contract: the engine's bootstrap (the directory weight the gate reads) and the risk-manager (a position outside
// CONTRACTS, published in positionUnits). MES stays a tenth.
import { fileURLToPath } from 'node:url';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bootstrapRuntime, createLogger, loadConfig, WorkerSupervisor, type RuntimeBootstrap } from '@gateway/runtime';
import { createSimulator, defaultContracts, type ContractSpec, type Simulator } from '@gateway/topstepx-sim';
import { RiskGate } from '@gateway/risk-gate';
import { AccountState, newAccountRecord, Side } from '@gateway/shared-state';
import { waitFor } from './harness';

const WORKER = fileURLToPath(new URL('../src/worker.dev.mjs', import.meta.url));
/** Wednesday 2026-12-02 10:00 CT: in session. */
const T0 = Date.UTC(2026, 11, 2, 16, 0, 0);
const ACCOUNT_ID = 1001;

const micro = (root: string, title: string, tickSize: number, tickValue: number, startPrice: number): ContractSpec => ({
  id: `CON.F.US.${root}.Z26`,
  name: `${root}Z6`,
  description: `${title}: December 2026`,
  symbolId: `F.US.${root}`,
  tickSize,
  tickValue,
  feePerSide: 2.04,
  startPrice,
  activeContract: true,
});

describe('position weight of Micro Bitcoin, Micro Ether and Micro Silver: a full lot (50K: 5 lots)', () => {
  let sim: Simulator;
  const runtimes: RuntimeBootstrap[] = [];
  const dataDirs: string[] = [];
  let supervisor: WorkerSupervisor | undefined;
  const offset = T0 - Date.now();

  async function bootstrap(contracts: string, extraEnv: Record<string, string> = {}): Promise<RuntimeBootstrap> {
    const dataDir = mkdtempSync(join(tmpdir(), 'risk-weights-'));
    dataDirs.push(dataDir);
    const config = loadConfig({ TOPSTEPX_API_URL: sim.url, TOPSTEPX_USERNAME: 'demo', TOPSTEPX_API_KEY: 'demo-key', CONTRACTS: contracts, DATA_DIR: dataDir, LOG_LEVEL: 'silent', ...extraEnv });
    const runtime = await bootstrapRuntime(config, createLogger({ app: 'risk-weights', thread: 'main', level: 'silent' }), import.meta.url);
    runtimes.push(runtime);
    return runtime;
  }

  beforeAll(async () => {
    sim = await createSimulator({
      clock: () => Date.now() + offset,
      market: { tradesPerSecond: 0 },
      rateLimits: false,
      accounts: [{ id: ACCOUNT_ID, name: 'S1-50K-DEMO', balance: 50_000 }],
      contracts: [
        ...defaultContracts(T0),
        micro('MBT', 'Micro Bitcoin', 5, 0.5, 95_000),
        micro('MET', 'Micro Ether', 0.5, 0.05, 3_500),
        micro('SIL', 'Micro Silver', 0.005, 5, 30),
      ],
    });
  }, 60_000);

  afterAll(async () => {
    await supervisor?.stop(4000);
    for (const r of runtimes) await r.close();
    await sim?.close();
    for (const d of dataDirs) rmSync(d, { recursive: true, force: true });
  });

  it('the gate denies a 6th lot of MBT, MET or SIL on a flat 50K account, and allows 50 MES but not 51', async () => {
    const runtime = await bootstrap('MBT,MET,SIL,MES');
    const state = runtime.state;
    const account = runtime.accounts[0]!;
    // The risk-manager's record of a flat, ACTIVE 50K Combine (maxPositionUnits 50 = 5 lots).
    state.accounts.writeAccount(account.slot, { ...newAccountRecord(), accountId: ACCOUNT_ID, state: AccountState.ACTIVE, maxPositionUnits: 50, maxOpenOrders: 20, maxOrdersPerMinute: 60, updatedMs: T0 });
    state.accounts.setReady(account.slot, true);
    const gate = new RiskGate(state, { clock: () => T0 });
    const entry = (contractSlot: number, size: number): string => {
      const r = gate.check({ accountSlot: account.slot, contractSlot, side: Side.BUY, size });
      if (r.allowed) gate.release(r.reservation);
      return r.allowed ? 'ALLOWED' : r.reason;
    };
    const seen: Record<string, unknown[]> = {};
    for (const c of runtime.contracts) {
      state.marks.setStale(c.slot, false);
      const lots = c.root === 'MES' ? 50 : 5;
      seen[c.root] = [c.isMicro, state.directory.weight(c.slot), entry(c.slot, lots), entry(c.slot, lots + 1)];
    }
    expect(seen).toEqual({
      MBT: [false, 10, 'ALLOWED', 'MAX_POSITION'],
      MET: [false, 10, 'ALLOWED', 'MAX_POSITION'],
      SIL: [false, 10, 'ALLOWED', 'MAX_POSITION'],
      MES: [true, 1, 'ALLOWED', 'MAX_POSITION'],
    });
  }, 60_000);

  it('the risk-manager counts an MBT position outside CONTRACTS as full lots in positionUnits', async () => {
    const runtime = await bootstrap('MES', { RISK_CLOCK_OFFSET_MS: String(offset), RISK_EVAL_INTERVAL_MS: '50', STALE_AFTER_MS: '60000' });
    const account = runtime.accounts[0]!;
    supervisor = new WorkerSupervisor([{ app: 'risk-manager', file: WORKER, workerData: runtime.workerInit('risk-manager') }], { logger: createLogger({ app: 'risk-weights', thread: 'main', level: 'silent' }) });
    await supervisor.start();
    await waitFor('ready', () => runtime.state.accounts.isReady(account.slot), 60_000);
    expect(runtime.state.directory.slotOf('CON.F.US.MBT.Z26')).toBe(-1);
    await runtime.rest.placeOrder({ accountId: ACCOUNT_ID, contractId: 'CON.F.US.MBT.Z26', type: 2, side: Side.BUY, size: 2 });
    const rec = newAccountRecord();
    // Filled and no longer working (while both, the order's size counts on top of the position).
    await waitFor('2 MBT published', () => runtime.state.accounts.readAccount(account.slot, rec).positionUnits !== 0 && rec.openOrders === 0, 60_000);
    // 2 MBT × 10 (as 1/10 of a mini they were 2 units).
    expect(rec.positionUnits).toBe(20);
  }, 120_000);
});
