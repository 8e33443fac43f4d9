// The market-data app in-process against the real simulator: the same WorkerContext the engine hands the
// thread (shared memory, channel over a MessagePort, registry, logger), minus the thread. Also a stand-in for
// the main thread's supervisor (request/event over the same channel) to mount the front-door module.
import { EventEmitter } from 'node:events';
import { MessageChannel, type MessagePort } from 'node:worker_threads';
import { Writable } from 'node:stream';
import { createLogger, createMetricsRegistry, loadConfig, WorkerChannel, type ContractInfo, type EngineConfig, type Logger, type ServiceApp, type WorkerToParent } from '@gateway/runtime';
import { allocateSharedState, attachSharedState, parseDecimalToUnits, PRICE_SCALE, MONEY_SCALE, type SharedState } from '@gateway/shared-state';
import { createSimulator, type Simulator, type SimulatorOptions } from '@gateway/topstepx-sim';
import { GatewayRestClient } from '@gateway/topstepx';
import type { Registry } from 'prom-client';
import WebSocket from 'ws';
import { createApp, type MarketDataAppOptions } from '../src/app';

export function silentLogger(): Logger {
  return createLogger({ app: 'market-data', thread: 'test', level: 'warn', destination: new Writable({ write: (_c, _e, cb) => cb() }) });
}

/** Poll until the condition holds; fails after timeoutMs. Never a fixed sleep. */
export async function waitFor(cond: () => boolean | Promise<boolean>, timeoutMs: number, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      if (await cond()) return;
    } catch {
      // not yet
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

export interface Harness {
  sim: Simulator;
  app: ServiceApp;
  state: SharedState;
  registry: Registry;
  contracts: ContractInfo[];
  config: EngineConfig;
  wsUrl: string;
  /** The main thread's side of the worker channel, as a WorkerSupervisor look-alike for the front door. */
  supervisor: FakeSupervisor;
  close(): Promise<void>;
}

/** request()/on('event'|'ready') over the thread protocol, like WorkerSupervisor for one app. */
export class FakeSupervisor extends EventEmitter {
  private next = 1;
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  constructor(
    private readonly port: MessagePort,
    private readonly app: string,
  ) {
    super();
    port.on('message', (msg: WorkerToParent) => {
      if (msg.kind === 'event') this.emit('event', this.app, msg.topic, msg.payload);
      else if (msg.kind === 'response') {
        const p = this.pending.get(msg.requestId);
        this.pending.delete(msg.requestId);
        if (msg.ok) p?.resolve(msg.result);
        else p?.reject(Object.assign(new Error(msg.error.message), { code: msg.error.code }));
      } else if (msg.kind === 'ready') this.emit('ready', this.app);
    });
  }
  request(_app: string, method: string, params: unknown): Promise<unknown> {
    const requestId = this.next++;
    return new Promise((resolve, reject) => {
      this.pending.set(requestId, { resolve, reject });
      this.port.postMessage({ kind: 'request', requestId, method, params });
    });
  }
}

export async function startHarness(opts: {
  env?: Record<string, string>;
  sim?: SimulatorOptions;
  app?: MarketDataAppOptions;
  contracts?: string[];
  /** Runs after the harness logged in and before the app is created (e.g. to break the broker's REST API). */
  beforeStart?: (sim: Simulator, state: SharedState) => void;
}): Promise<Harness> {
  const sim = await createSimulator({ rateLimits: false, ...opts.sim });
  const config = loadConfig({
    TOPSTEPX_API_URL: sim.url,
    TOPSTEPX_MARKET_HUB_URL: sim.marketHubUrl,
    TOPSTEPX_USER_HUB_URL: sim.userHubUrl,
    TOPSTEPX_USERNAME: 'demo',
    TOPSTEPX_API_KEY: 'demo-key',
    MARKET_DATA_WS_PORT: '0',
    ...opts.env,
  });
  const rest = new GatewayRestClient({ baseUrl: sim.url, userName: 'demo', apiKey: 'demo-key' });
  const token = await rest.login();
  const available = (await rest.availableContracts(false)) ?? [];
  await rest.close();
  const shared = allocateSharedState();
  const state = attachSharedState(shared);
  const contracts: ContractInfo[] = (opts.contracts ?? ['MNQ', 'ES']).map((root) => {
    const c = available.find((x) => x.activeContract && x.name.startsWith(root) && /^[FGHJKMNQUVXZ]\d$/.test(x.name.slice(root.length)))!;
    const tickSizeUnits = parseDecimalToUnits(String(c.tickSize), PRICE_SCALE, 'tickSize');
    const tickValueUnits = parseDecimalToUnits(String(c.tickValue), MONEY_SCALE, 'tickValue');
    const slot = state.directory.register({ contractId: c.id, tickSize: tickSizeUnits, tickValue: tickValueUnits, weight: 1 });
    return { contractId: c.id, root, name: c.name, symbolId: c.symbolId, tickSizeUnits, tickValueUnits, isMicro: root.startsWith('M'), slot };
  });
  opts.beforeStart?.(sim, state);
  const registry = createMetricsRegistry('market-data', { defaultMetrics: false });
  const mc = new MessageChannel();
  const channel = new WorkerChannel({ app: 'market-data', port: mc.port1, registry, onShutdown: async () => undefined });
  const supervisor = new FakeSupervisor(mc.port2, 'market-data');
  const app = createApp(
    {
      init: {
        app: 'market-data',
        config,
        shared,
        broker: { apiUrl: sim.url, userHubUrl: sim.userHubUrl, marketHubUrl: sim.marketHubUrl, token, simulated: true },
        contracts,
        accounts: [],
      },
      state,
      logger: silentLogger(),
      registry,
      channel,
    },
    opts.app,
  );
  await app.start();
  const info = app.readyInfo!() as { wsPort: number };
  return {
    sim,
    app,
    state,
    registry,
    contracts,
    config,
    wsUrl: `ws://127.0.0.1:${info.wsPort}`,
    supervisor,
    async close() {
      await app.stop(1000);
      mc.port1.close();
      mc.port2.close();
      await sim.close();
    },
  };
}

/** A test client that records every frame and close. */
export class Client {
  readonly ws: WebSocket;
  readonly frames: Array<Record<string, unknown>> = [];
  closeCode: number | undefined;
  readonly opened: Promise<void>;
  readonly closed: Promise<number>;
  constructor(url: string) {
    this.ws = new WebSocket(url);
    this.opened = new Promise((resolve, reject) => {
      this.ws.once('open', () => resolve());
      this.ws.once('error', reject);
    });
    this.closed = new Promise((resolve) =>
      this.ws.once('close', (code) => {
        this.closeCode = code;
        resolve(code);
      }),
    );
    this.ws.on('error', () => undefined);
    this.ws.on('message', (data) => this.frames.push(JSON.parse(String(data)) as Record<string, unknown>));
  }
  send(v: unknown): void {
    this.ws.send(typeof v === 'string' ? v : JSON.stringify(v));
  }
  of(type: string): Array<Record<string, unknown>> {
    return this.frames.filter((f) => f['type'] === type);
  }
  async waitFrame(pred: (f: Record<string, unknown>) => boolean, timeoutMs: number, what: string): Promise<Record<string, unknown>> {
    let found: Record<string, unknown> | undefined;
    await waitFor(() => (found = this.frames.find(pred)) !== undefined, timeoutMs, what);
    return found!;
  }
  close(): void {
    this.ws.close();
  }
}

/** The value of a metric sample (labels matched exactly on the given keys). */
export async function metricValue(registry: Registry, name: string, labels: Record<string, string> = {}): Promise<number> {
  const all = await registry.getMetricsAsJSON();
  const m = all.find((x) => x.name === name) ?? all.find((x) => String(x.type) === 'histogram' && name.startsWith(`${x.name}_`));
  if (!m) return 0;
  let total = 0;
  for (const v of m.values as Array<{ value: number; labels: Record<string, string | number>; metricName?: string }>) {
    if ((v.metricName ?? m.name) !== name) continue;
    if (Object.entries(labels).every(([k, want]) => String(v.labels[k]) === want)) total += v.value;
  }
  return total;
}
