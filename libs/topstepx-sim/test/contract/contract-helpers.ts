// Shared fixtures of the contract suite: the real @gateway/topstepx clients wired to an in-process
// simulator (port 0), plus bounded waits. Each spec file tracks what it started and closes it in
// afterEach through `Fixtures.closeAll`.
import {
  GatewayRestClient,
  MarketHubClient,
  UserHubClient,
  createLocalRateGate,
  type GatewayRestClientOptions,
  type HubConnectionOptions,
  type MarketHubClientOptions,
} from '@gateway/topstepx';
import { createSimulator, type Simulator, type SimulatorOptions } from '../../src/index';
import { MNQ, T0, testClock, type TestClock } from '../helpers';

export { MNQ, T0 };
export const ACCOUNT = 1001;
export const POSITION_BRACKETS_ACCOUNT = 1002;
export const LIVE_ACCOUNT = 1003;
/** Reconnect at once, then every 100 ms: explicit so the reconnect tests do not depend on defaults. */
export const FAST_RECONNECT: readonly number[] = [0, 100];

export type ContractSim = Simulator & { clock: TestClock };

/** Everything a test started; closed in reverse order, errors swallowed so one failure does not hide another. */
export class Fixtures {
  private readonly closers: Array<() => Promise<unknown>> = [];

  /**
   * A quiet simulator (no random walk, no rate limits) on a manual clock at T0 (inside the Dec 2026
   * front month), MNQ moved to last 21000.00 / bid 21000.00 / ask 21000.25.
   */
  async sim(options: SimulatorOptions = {}): Promise<ContractSim> {
    const clock = testClock();
    const sim = await createSimulator({
      clock,
      rateLimits: false,
      ...options,
      market: { tradesPerSecond: 0, historyDays: 1, ...options.market },
    });
    this.closers.push(() => sim.close());
    sim.setPrice(MNQ, 21000);
    return Object.assign(sim, { clock });
  }

  /** A logged-in REST client; the rate gate is off unless the test passes one. */
  async rest(sim: Simulator, options: Partial<GatewayRestClientOptions> = {}): Promise<GatewayRestClient> {
    const client = new GatewayRestClient({
      baseUrl: sim.url,
      userName: 'demo',
      apiKey: 'demo-key',
      rateGate: createLocalRateGate(undefined, false),
      requestTimeoutMs: 5_000,
      backoffBaseMs: 20,
      random: () => 0.5,
      ...options,
    });
    this.closers.push(() => client.close());
    await client.login();
    return client;
  }

  async market(sim: Simulator, rest: GatewayRestClient, options: Partial<MarketHubClientOptions> = {}): Promise<MarketHubClient> {
    const hub = new MarketHubClient({
      url: sim.marketHubUrl,
      accessTokenFactory: () => rest.token!,
      reconnectDelaysMs: FAST_RECONNECT,
      staleAfterMs: 0,
      tickMs: 50,
      ...options,
    });
    this.closers.push(() => hub.stop());
    await hub.start();
    return hub;
  }

  async user(sim: Simulator, rest: GatewayRestClient, options: Partial<HubConnectionOptions> = {}): Promise<UserHubClient> {
    const hub = new UserHubClient({ url: sim.userHubUrl, accessTokenFactory: () => rest.token!, reconnectDelaysMs: FAST_RECONNECT, tickMs: 50, ...options });
    this.closers.push(() => hub.stop());
    await hub.start();
    return hub;
  }

  async closeAll(): Promise<void> {
    for (const close of this.closers.splice(0).reverse()) await close().catch(() => undefined);
  }
}

/** Polls `cond` until truthy (bounded by `ms`); the failure message names what was awaited. */
export async function waitFor<T>(cond: () => T | undefined | null | false, what: string, ms = 15_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = cond();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** The fields of the client's error classes that the suite inspects (absent ones stay undefined). */
export type Caught = Error & {
  code?: string;
  endpoint?: string;
  errorCode?: number;
  codeName?: string;
  errorMessage?: string | null;
  orderId?: number;
  reason?: string;
  kind?: string;
  extra?: { customTag?: string };
};

/** Resolves with the error `p` rejected with, so `expect(await caught(p))` can inspect its fields. */
export async function caught(p: Promise<unknown>): Promise<Caught> {
  try {
    await p;
  } catch (err) {
    return err as Caught;
  }
  throw new Error('expected the call to throw');
}

/** Records every REST request the simulator answered (endpoint, status), in order. */
export function recordRequests(sim: Simulator): Array<{ endpoint: string; status: number }> {
  const seen: Array<{ endpoint: string; status: number }> = [];
  sim.on('request', (r) => seen.push(r));
  return seen;
}
