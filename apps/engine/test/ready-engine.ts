// The engine in this process, ready to trade: the start of the specs that drive the real engine (worker threads:
// market-data, risk-manager; the executor pool; gRPC) against a simulator in the test's process.
import { request } from 'undici';
import { loadConfig, type Logger } from '@gateway/runtime';
import type { Simulator } from '@gateway/topstepx-sim';
import { startEngine, type RunningEngine } from '../src/engine';
import { testEngineEnv, waitFor } from './helpers';

const ENGINE_URL = new URL('../src/engine.ts', import.meta.url).href;

/**
 * The engine against `sim` (account 1001, MNQ, one executor thread, no rate limits, risk limits out of the way unless
 * `env` sets them), ready: /healthz 200, the risk state ready and a fresh MNQ mark at 21000.
 */
export async function startReadyEngine(sim: Simulator, dataDir: string, logger: Logger, env: Record<string, string> = {}): Promise<{ engine: RunningEngine; contractId: string }> {
  const config = loadConfig({
    ...testEngineEnv(sim.url, dataDir),
    BROKER_RATE_LIMIT: 'off',
    RISK_MAX_POSITION: '1000',
    RISK_MAX_OPEN_ORDERS: '10000',
    RISK_MAX_ORDERS_PER_MINUTE: '0',
    // The simulator prints no trades of its own here: its quiet feed must not go stale mid-test.
    STALE_AFTER_MS: '3600000',
    ...env,
  });
  const engine = await startEngine(config, ENGINE_URL, logger);
  const c = engine.runtime.contracts.find((x) => x.root === 'MNQ')!;
  sim.setPrice(c.contractId, 21000);
  await waitFor(async () => (await request(`http://127.0.0.1:${engine.httpPort}/healthz`)).statusCode === 200, 120_000, 'engine ready');
  const acct = engine.runtime.accounts[0]!;
  await waitFor(() => engine.runtime.state.accounts.isReady(acct.slot) && !engine.runtime.state.marks.isStale(c.slot), 60_000, 'risk state ready and a fresh MNQ mark');
  return { engine, contractId: c.contractId };
}
