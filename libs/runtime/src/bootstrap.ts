// What the engine's main thread (or an app running alone) does before any worker starts: find the
// broker (the embedded simulator by default), log in, resolve the configured roots to front-month
// contracts, pick the account, allocate the shared memory and register contracts and accounts in
// it. Main thread only: it owns the SharedArrayBuffer.
import { GatewayRestClient, type Contract } from '@gateway/topstepx';
import { countsAsTenthOfMini, MICRO_WEIGHT, MINI_WEIGHT } from '@gateway/risk';
import { allocateSharedState, attachSharedState, PRICE_SCALE, MONEY_SCALE, parseDecimalToUnits, type SharedState, type SharedStateBuffers } from '@gateway/shared-state';
import type { Logger } from 'pino';
import { hubUrls, type EngineConfig } from './config';
import { startEmbeddedSimulator, type EmbeddedSimulator } from './embedded-sim';
import { appEntry } from './worker-entry';
import { BroadcastChannel } from 'node:worker_threads';
import { BROKER_TOKEN_CHANNEL, type AccountInfo, type BrokerEndpoints, type ContractInfo, type WorkerInit } from './worker-init';

/**
 * The broker's general bucket (200 / 60 s) split three ways, each side with its own margin: the threads that
 * share memory (executor orders and REST tasks, market-data) take SHARED_GENERAL_LIMIT per 61 s; the
 * risk-manager's client has its own RISK_MANAGER_RATE_LIMIT; the bootstrap client on the main thread keeps
 * the rest for its few calls (login, hourly token validation, contract lookups: not gated by a share of its
 * own, it sends a handful an hour). 160 + 30 = 190 of the broker's 200.
 */
export const SHARED_GENERAL_LIMIT = 160;
export const RISK_MANAGER_RATE_LIMIT = Object.freeze({
  general: Object.freeze({ limit: 30, windowMs: 61_000 }),
  bars: Object.freeze({ limit: 3, windowMs: 31_000 }),
});

export interface RuntimeBootstrap {
  broker: BrokerEndpoints;
  rest: GatewayRestClient;
  buffers: SharedStateBuffers;
  state: SharedState;
  contracts: ContractInfo[];
  accounts: AccountInfo[];
  simulator: EmbeddedSimulator | undefined;
  /** The workerData every thread of this process gets, for an app name. */
  workerInit(app: string): WorkerInit;
  close(): Promise<void>;
}

export class BootstrapError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'BootstrapError';
  }
}

/**
 * @param callerUrl import.meta.url of the calling main (locates the simulator's entry, compiled or not)
 */
export async function bootstrapRuntime(config: EngineConfig, logger: Logger, callerUrl: string): Promise<RuntimeBootstrap> {
  let simulator: EmbeddedSimulator | undefined;
  let apiUrl = config.broker.apiUrl;
  if (apiUrl === undefined) {
    simulator = await startEmbeddedSimulator({ entry: appEntry(callerUrl, 'topstepx-sim', 'main'), env: config.simEnv, logger });
    apiUrl = simulator.url;
  }
  const hubs = hubUrls(config.broker, apiUrl);
  const rest = new GatewayRestClient({
    baseUrl: apiUrl,
    userName: config.broker.userName,
    apiKey: config.broker.apiKey,
    connections: 4,
    logger,
  });
  try {
    const token = await rest.login();
    const available = (await rest.availableContracts(config.broker.live)) ?? [];
    const buffers = allocateSharedState();
    const state = attachSharedState(buffers);
    // The broker's buckets are 200 / 60 s and 50 / 30 s (bars). The client counts a request when it
    // sends it and the broker when it arrives, so delays in between can squeeze two requests
    // closer: keep a margin (5 % and one extra second of window). A 429 on a mutation would be an
    // unknown outcome. BROKER_RATE_LIMIT=off (benchmarks against the simulator) disables both.
    // The shared general bucket leaves RISK_MANAGER_RATE_LIMIT.general to the risk-manager's own client, so
    // loss-limit enforcement (cancel, close) never queues behind orders nor meets a 429 when they use it all,
    // and a few requests a minute to this bootstrap client (token validation, contract lookups).
    state.rate.configure('general', { limit: SHARED_GENERAL_LIMIT, windowMs: 61_000, enabled: config.broker.rateLimit });
    state.rate.configure('bars', { limit: 47, windowMs: 31_000, enabled: config.broker.rateLimit });
    const contracts = config.contracts.map((wanted) => {
      const c = resolveContract(wanted, available);
      if (!c) throw new BootstrapError('CONTRACT_NOT_FOUND', `CONTRACTS: no active contract for "${wanted}" in Contract/available`);
      const root = rootOf(c);
      const info: Omit<ContractInfo, 'slot'> = {
        contractId: c.id,
        root,
        name: c.name,
        symbolId: c.symbolId,
        tickSizeUnits: parseDecimalToUnits(String(c.tickSize), PRICE_SCALE, 'tickSize'),
        tickValueUnits: parseDecimalToUnits(String(c.tickValue), MONEY_SCALE, 'tickValue'),
        // The weight table of @gateway/risk, shared with the risk-manager: MBT, MET and SIL count as full lots.
        isMicro: countsAsTenthOfMini(root),
      };
      const slot = state.directory.register({
        contractId: info.contractId,
        tickSize: info.tickSizeUnits,
        tickValue: info.tickValueUnits,
        weight: info.isMicro ? MICRO_WEIGHT : MINI_WEIGHT,
      });
      return { ...info, slot };
    });
    const all = (await rest.searchAccounts(true)) ?? [];
    const chosen =
      config.broker.accountId !== undefined ? all.find((a) => a.id === config.broker.accountId) : all.find((a) => a.canTrade);
    if (!chosen) {
      throw new BootstrapError(
        'ACCOUNT_NOT_FOUND',
        config.broker.accountId !== undefined
          ? `TOPSTEPX_ACCOUNT_ID: account ${config.broker.accountId} is not among the active accounts of this user`
          : 'no active account that can trade',
      );
    }
    const accounts: AccountInfo[] = [{ accountId: chosen.id, name: chosen.name, slot: state.accounts.registerAccount(chosen.id) }];
    // Threads that hold a hub with the main thread's token (market-data) use the rotated one at their next connect:
    // every token the session gets (validate swap or re-login) is published to them.
    const tokens = new BroadcastChannel(BROKER_TOKEN_CHANNEL);
    (tokens as unknown as { unref?: () => void }).unref?.();
    const stopPublishing = rest.onTokenChange((t) => tokens.postMessage(t));
    const broker: BrokerEndpoints = {
      apiUrl,
      userHubUrl: hubs.user,
      marketHubUrl: hubs.market,
      token,
      simulated: simulator !== undefined,
    };
    logger.info(
      { broker: simulator ? 'embedded simulator' : apiUrl, contracts: contracts.map((c) => c.contractId), account: chosen.id },
      'broker session open',
    );
    return {
      broker,
      rest,
      buffers,
      state,
      contracts,
      accounts,
      simulator,
      workerInit: (app) => ({ app, config, shared: buffers, broker: { ...broker, token: rest.token ?? token }, contracts, accounts }),
      async close() {
        stopPublishing();
        tokens.close();
        await rest.close();
        await simulator?.stop();
      },
    };
  } catch (err) {
    await rest.close();
    await simulator?.stop();
    throw err;
  }
}

/** The CME root of a contract from its name (`MNQZ6`, `NQU5`, `ENQH25` → MNQ, NQ, ENQ). */
function rootOf(c: Contract): string {
  const m = /^([A-Z0-9]+?)[FGHJKMNQUVXZ]\d{1,2}$/.exec(c.name);
  return m ? m[1]! : c.name;
}

/** A configured root (MNQ) → its active front month; a full contract id → that contract. */
export function resolveContract(wanted: string, available: readonly Contract[]): Contract | undefined {
  if (wanted.startsWith('CON.')) return available.find((c) => c.id === wanted);
  const candidates = available.filter((c) => c.activeContract && rootOf(c) === wanted);
  return candidates[0];
}
