// OutsideFeed against the simulator's market hub, in process (no worker): a first connect that fails is retried
// (by the hub: retryFirstConnect) until accepted, the subscriptions recorded meanwhile are sent then, and stop()
// ends a back-off wait at once.
// The simulator refuses a connect by dropping the socket before its handshake (its disconnectHubs fault, called
// as the connection arrives; no user hub is connected here).
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { GatewayRestClient, type Logger } from '@gateway/topstepx';
import { createSimulator, type Simulator } from '@gateway/topstepx-sim';
import { OutsideFeed } from '../src/outside-feed';
import { OutsidePrices } from '../src/outside-prices';
import { waitFor } from './harness';

describe('OutsideFeed (simulator market hub)', () => {
  let sim: Simulator;
  let rest: GatewayRestClient;
  let mes: string;
  let feed: OutsideFeed | undefined;
  /** Market-hub connections the simulator saw, and how many of the first it drops. */
  let attempts = 0;
  let refuse = 0;
  const invoked: string[] = [];
  const warnings: string[] = [];
  const logger: Logger = {
    debug: () => undefined,
    info: () => undefined,
    warn: (_obj, msg) => warnings.push(msg ?? ''),
    error: () => undefined,
  };
  const prices = (): OutsidePrices => new OutsidePrices({ staleAfterMs: 60_000, now: Date.now, sessionOpen: () => true });
  const start = (p: OutsidePrices, retryDelaysMs: readonly number[]): OutsideFeed =>
    (feed = new OutsideFeed({ url: sim.marketHubUrl, accessTokenFactory: () => rest.token!, prices: p, logger, rootOf: () => 'MES', retryDelaysMs }));

  beforeEach(async () => {
    attempts = 0;
    invoked.length = 0;
    warnings.length = 0;
    sim = await createSimulator({ market: { tradesPerSecond: 0 }, rateLimits: false });
    sim.on('hubConnection', ({ hub, connected }) => {
      if (hub !== 'market' || !connected) return;
      attempts++;
      // Synchronously, before the client's handshake is read: its connect fails.
      if (attempts <= refuse) sim.faults.disconnectHubs();
    });
    sim.on('hubInvocation', ({ hub, target }) => {
      if (hub === 'market') invoked.push(target);
    });
    rest = new GatewayRestClient({ baseUrl: sim.url, userName: 'demo', apiKey: 'demo-key' });
    await rest.login();
    mes = (await rest.searchContracts('MES'))!.find((c) => c.activeContract)!.id;
  });
  afterEach(async () => {
    await feed?.stop();
    feed = undefined;
    await rest.close();
    await sim.close();
  });

  it('retries a refused first connect until accepted, then sends the subscriptions and prices the contract', async () => {
    refuse = 3;
    const p = prices();
    const f = start(p, [10, 20]);
    f.sync(new Set([mes]));
    expect(f.size).toBe(1);
    await waitFor('accepted after the refused connects', () => attempts === 4 && sim.hubConnections('market') === 1, 30_000);
    expect(warnings.filter((m) => m === 'hub connect failed; retrying until connected or stopped')).toHaveLength(3);
    await waitFor('subscribed', () => invoked.includes('SubscribeContractTrades') && invoked.includes('SubscribeContractQuotes'));
    sim.setPrice(mes, 6_005);
    await waitFor('priced from the feed', () => p.price(mes) === 6_005 * 1e9);
    expect(p.usable(mes)).toBe(true);
    // No account holds it any more: unsubscribed, the connection stays.
    f.sync(new Set());
    await waitFor('unsubscribed', () => invoked.includes('UnsubscribeContractTrades') && invoked.includes('UnsubscribeContractQuotes'));
    expect([f.size, p.price(mes), sim.hubConnections('market')]).toEqual([0, undefined, 1]);
  }, 60_000);

  it('stop() ends a back-off wait at once and leaves no connection; a later sync connects nothing', async () => {
    refuse = Number.POSITIVE_INFINITY;
    const f = start(prices(), [600_000]);
    f.sync(new Set([mes]));
    await waitFor('the first connect refused and the wait begun', () => warnings.some((m) => m === 'hub connect failed; retrying until connected or stopped'), 30_000);
    // The wait is ten minutes: stop() returns within the test's timeout only if it cuts it short.
    await f.stop();
    expect(attempts).toBe(1);
    expect(sim.hubConnections('market')).toBe(0);
    f.sync(new Set([mes, 'CON.F.US.EP.Z26']));
    expect(f.size).toBe(1);
  }, 30_000);
});
