// For tests only (entry `@gateway/front-door/testing`; not exported by the lib's index, never used by the engine):
// the harness of the order-path specs. It bootstraps the runtime against an in-process simulator (port 0), stands in
// for the risk-manager (an ACTIVE account record and fresh marks in shared memory), starts real order-executor
// threads (ExecutorPool running that app's worker), creates the orders module or a bare OrdersService, and
// optionally the gRPC front door (port 0) with a client. Loopback only.
import { EventEmitter } from 'node:events';
import { mkdirSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { credentials } from '@grpc/grpc-js';
import { Registry } from 'prom-client';
import { orders } from '@gateway/proto';
import { COMBINE_50K, tradingHoursStatus } from '@gateway/risk';
import {
  appEntry,
  bootstrapRuntime,
  createLogger,
  ExecutorPool,
  loadConfig,
  riskClock,
  type EngineConfig,
  type ExecutorFault,
  type Logger,
  type RuntimeBootstrap,
  type WorkerSupervisor,
} from '@gateway/runtime';
import { chicagoToEpoch, toChicago } from '@gateway/session';
import { AccountState, newAccountRecord } from '@gateway/shared-state';
import { createSimulator, type Simulator } from '@gateway/topstepx-sim';
import type { FrontDoorDeps } from './deps';
import { startGrpcFrontDoor, type GrpcFrontDoor } from './grpc-server';
import type { FrontDoorModule } from './module';
import { createOrdersModule, OrdersService, type OrdersOptions } from './orders';

/** The workspace root (this file is libs/front-door/src/testing.ts). */
const ROOT = resolve(fileURLToPath(new URL('../../..', import.meta.url)));

/** The broker account of the simulator the harness trades. */
export const TEST_ACCOUNT = 1001;

/** A main-thread logger at warn that writes nowhere. */
export const silentLogger: Logger = createLogger({ app: 'engine', thread: 'main', level: 'warn', destination: new Writable({ write: (_c, _e, cb) => cb() }) });

/** A main-thread logger that appends every line it writes (warn and above) to `lines`. */
export function capturingLogger(lines: string[]): Logger {
  return createLogger({
    app: 'engine',
    thread: 'main',
    level: 'warn',
    destination: new Writable({
      write: (chunk: Buffer, _e, cb) => {
        lines.push(chunk.toString());
        cb();
      },
    }),
  });
}

/** Keeps the risk clock inside trading hours for the next hour (the gate refuses entries from the 15:08 CT auto-flatten to 17:00 CT and at the weekend). */
export function tradingHoursEnv(nowMs = Date.now()): Record<string, string> {
  const soon = tradingHoursStatus(nowMs + 3_600_000, COMBINE_50K);
  const now = tradingHoursStatus(nowMs, COMBINE_50K);
  if (now.entryAllowedByTime && soon.entryAllowedByTime) return {};
  const ct = toChicago(nowMs);
  const daysToTuesday = ((2 - ct.weekday + 7) % 7) || 7;
  return { RISK_CLOCK_OFFSET_MS: String(chicagoToEpoch(ct.year, ct.month, ct.day + daysToTuesday, 10, 0) - nowMs) };
}

/** Polls `cond` every 50 ms until it holds; throws naming `what` after `timeoutMs`. */
export async function waitFor(cond: () => boolean | Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await cond()) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** The simulator the specs use: in this process, port 0, no broker rate limits, no market trades. */
export function createTestSimulator(seed: number): Promise<Simulator> {
  return createSimulator({ rateLimits: false, seed, market: { tradesPerSecond: 0 } });
}

/** `<workspace>/tmp/<name>`, emptied and created. The caller removes it (or passes `removeDataDir`). */
export function freshDataDir(name: string): string {
  const dir = join(ROOT, 'tmp', name);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  return dir;
}

export interface OrdersHarnessOptions {
  /** DATA_DIR (the journal). Kept by close() unless `removeDataDir`. */
  dataDir: string;
  /** Remove `dataDir` on close(). Default false (a restart reuses it). */
  removeDataDir?: boolean;
  /** A simulator the caller owns (shared by several harnesses); without it the harness starts one of `seed` and closes it. */
  sim?: Simulator;
  /** Seed of the harness's own simulator. Default 11. */
  seed?: number;
  /** Config env on top of the harness's (TOPSTEPX_*, DATA_DIR, CONTRACTS=MNQ, one executor thread, trading hours). */
  env?: Record<string, string>;
  /** Keep the shared broker rate budget on (BROKER_RATE_LIMIT left to its default). Default false: off. */
  rateBudget?: boolean;
  /** The stand-in risk-manager's account record. Defaults: 1 000 000 units, 100 000 open orders, no per-minute cap. */
  account?: { maxPositionUnits?: number; maxOpenOrders?: number };
  /** The executor pool (one thread). Default maxQueue 1000, no faults. */
  executor?: { maxQueue?: number; faults?: ExecutorFault[] };
  /** `module` (createOrdersModule, as the engine; start waits for its recovery) or `service` (a bare OrdersService, recover() awaited). Default `module`. */
  orders?: 'module' | 'service';
  /** Options of the OrdersService. */
  ordersOptions?: OrdersOptions;
  /** The stand-in supervisor's request(app, method, params). Default: answers {}. */
  supervisorRequest?: (app: string, method: string, params: unknown) => Promise<unknown>;
  /** Keep the main thread's log lines (warn and above) in `logs`. Default false: silentLogger. */
  captureLogs?: boolean;
  /** Start the gRPC front door (port 0) with the orders service, and a client. Needs `orders: 'module'`. Default false. */
  grpc?: boolean;
}

/** A working order at the simulator. */
export interface WorkingOrder {
  id: number;
  size: number;
  limitPrice?: number | null;
}

export interface OrdersHarness {
  sim: Simulator;
  config: EngineConfig;
  runtime: RuntimeBootstrap;
  executor: ExecutorPool;
  /** The stand-in supervisor: emit('event', 'risk-manager', name, payload) delivers a risk-manager event. */
  supervisor: EventEmitter;
  deps: FrontDoorDeps;
  svc: OrdersService;
  /** With `orders: 'module'`. */
  module?: FrontDoorModule & { service: OrdersService };
  /** With `grpc`. */
  grpc?: GrpcFrontDoor;
  /** With `grpc`: a client of the front door's OrderService. */
  client?: orders.OrderServiceClient;
  /** The account's slot in shared memory. */
  acctSlot: number;
  /** The contract id of MNQ (the one contract). */
  contractId: string;
  /** Main-thread log lines, with `captureLogs`. */
  logs: string[];
  /** The simulator's position of the account in the contract, signed (long > 0). */
  position(): number;
  /** The account's working orders at the simulator. */
  working(): WorkingOrder[];
  /** Orders the broker's own closes placed (no custom tag): one per close that reached the broker. */
  closeOrders(): number;
  /** Between tests: FlattenAll unless the account is already flat with no working orders at the simulator. */
  flattenIfNeeded(): Promise<void>;
  /** Between tests: clears the simulator's faults, then flattenIfNeeded(). */
  resetBetweenTests(): Promise<void>;
  /** Stops everything the harness started, in reverse order. */
  close(): Promise<void>;
}

/** Starts the order path against the simulator: see the file's header. */
export async function startOrdersHarness(options: OrdersHarnessOptions): Promise<OrdersHarness> {
  const cleanup: Array<() => unknown> = [];
  const close = async (): Promise<void> => {
    for (const f of cleanup.splice(0).reverse()) await f();
  };
  if (options.removeDataDir) cleanup.push(() => rmSync(options.dataDir, { recursive: true, force: true }));
  try {
    let sim = options.sim;
    if (!sim) {
      const own = await createTestSimulator(options.seed ?? 11);
      cleanup.push(() => own.close());
      sim = own;
    }
    const logs: string[] = [];
    const logger = options.captureLogs ? capturingLogger(logs) : silentLogger;
    const config = loadConfig({
      TOPSTEPX_API_URL: sim.url,
      TOPSTEPX_USERNAME: 'demo',
      TOPSTEPX_API_KEY: 'demo-key',
      TOPSTEPX_ACCOUNT_ID: String(TEST_ACCOUNT),
      DATA_DIR: options.dataDir,
      CONTRACTS: 'MNQ',
      EXECUTOR_THREADS: '1',
      LOG_LEVEL: 'error',
      ...(options.rateBudget ? {} : { BROKER_RATE_LIMIT: 'false' }),
      ...tradingHoursEnv(),
      ...options.env,
    });
    const runtime = await bootstrapRuntime(config, logger, import.meta.url);
    cleanup.push(() => runtime.close());
    // The risk-manager's part: an ACTIVE account record and fresh marks.
    const acct = runtime.accounts[0]!;
    const rec = newAccountRecord();
    rec.accountId = acct.accountId;
    rec.state = AccountState.ACTIVE;
    rec.maxPositionUnits = options.account?.maxPositionUnits ?? 1_000_000;
    rec.maxOpenOrders = options.account?.maxOpenOrders ?? 100_000;
    rec.maxOrdersPerMinute = 0;
    // Republished like the risk-manager does (every RISK_EVAL_INTERVAL_MS), on the risk clock the gates read: the gate
    // refuses entries on an account record older than its maxRecordAgeMs (5 s).
    const riskNow = riskClock(config.risk);
    const publishAccount = (): void => {
      rec.updatedMs = riskNow();
      runtime.state.accounts.writeAccount(acct.slot, rec);
    };
    publishAccount();
    runtime.state.accounts.setReady(acct.slot, true);
    const heartbeat = setInterval(publishAccount, 100);
    heartbeat.unref();
    cleanup.push(() => clearInterval(heartbeat));
    for (const c of runtime.contracts) {
      const last = Math.round(sim.quote(c.contractId).last * 1e9);
      runtime.state.marks.write(c.slot, { last, bid: last - c.tickSizeUnits, ask: last + c.tickSizeUnits, lastTradeMs: Date.now(), updatedMs: Date.now() });
      runtime.state.marks.setStale(c.slot, false);
    }
    const executor = new ExecutorPool({
      file: appEntry(import.meta.url, 'order-executor', 'worker', 3),
      threads: 1,
      maxQueue: options.executor?.maxQueue ?? 1000,
      workerData: runtime.workerInit('order-executor'),
      logger,
      faults: options.executor?.faults,
    });
    await executor.start();
    cleanup.push(() => executor.close(1000));
    const supervisor = Object.assign(new EventEmitter(), { request: options.supervisorRequest ?? (async () => ({})) });
    const deps = { config, runtime, supervisor: supervisor as unknown as WorkerSupervisor, executor, logger, registry: new Registry() } as FrontDoorDeps;
    let svc: OrdersService;
    let module: (FrontDoorModule & { service: OrdersService }) | undefined;
    if ((options.orders ?? 'module') === 'module') {
      const m = createOrdersModule(deps, options.ordersOptions);
      cleanup.push(() => m.stop?.(1000));
      module = m;
      svc = m.service;
    } else {
      const s = new OrdersService(deps, options.ordersOptions);
      cleanup.push(() => s.stop());
      await s.recover();
      svc = s;
    }
    let grpc: GrpcFrontDoor | undefined;
    let client: orders.OrderServiceClient | undefined;
    if (options.grpc) {
      if (!module) throw new Error('startOrdersHarness: grpc needs orders: module');
      const g = await startGrpcFrontDoor({ host: '127.0.0.1', port: 0, services: [module.grpc!] });
      cleanup.push(() => g.close(1000));
      grpc = g;
      const c = new orders.OrderServiceClient(`127.0.0.1:${g.port}`, credentials.createInsecure());
      cleanup.push(() => c.close());
      client = c;
    }
    if (module) await waitFor(() => svc.isReady, 60_000, 'the order book recovered');
    const contractId = runtime.contracts[0]!.contractId;
    const simulator = sim;
    const working = (): WorkingOrder[] =>
      (simulator.orders(TEST_ACCOUNT) as Array<{ id: number; status: number; size: number; limitPrice?: number | null }>).filter((o) => o.status === 1);
    const flattenIfNeeded = async (): Promise<void> => {
      if (simulator.positions(TEST_ACCOUNT).length > 0 || working().length > 0) await svc.flattenAll({ accountId: 0, halt: false, clientRequestId: '' });
    };
    return {
      sim,
      config,
      runtime,
      executor,
      supervisor,
      deps,
      svc,
      module,
      grpc,
      client,
      acctSlot: acct.slot,
      contractId,
      logs,
      position() {
        const p = simulator.positions(TEST_ACCOUNT).find((x) => x.contractId === contractId) as { size: number; type: number } | undefined;
        return p ? (p.type === 2 ? -p.size : p.size) : 0;
      },
      working,
      closeOrders: () => (simulator.orders(TEST_ACCOUNT) as Array<{ customTag?: string | null }>).filter((o) => !o.customTag).length,
      flattenIfNeeded,
      async resetBetweenTests() {
        simulator.faults.reset();
        await flattenIfNeeded();
      },
      close,
    };
  } catch (err) {
    await close();
    throw err;
  }
}
