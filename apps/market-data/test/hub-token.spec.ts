// Session-token rotation and the market hub: the main thread publishes every rotated token (hourly validate),
// tokens live 24 h and a newer one does not invalidate older ones, so a rotation is kept for the next connect
// instead of dropping the hub (and the ticks in flight); the connection is rebuilt only once the token it was
// opened with gets old. The token clock is injected, so "old" takes no real hours.
import { BroadcastChannel } from 'node:worker_threads';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BROKER_TOKEN_CHANNEL } from '@gateway/runtime';
import { newMark, PRICE_SCALE } from '@gateway/shared-state';
import { GatewayRestClient } from '@gateway/topstepx';
import { HUB_TOKEN_MAX_AGE_MS } from '../src/app';
import { startHarness, waitFor, type Harness } from './harness';

describe('market hub and session-token rotation', () => {
  let h: Harness;
  let tokenNow = 1_800_000_000_000;
  let marketDrops = 0;
  let price = 21_000;
  /** The session whose token the hub connection was opened with after the first test. */
  let second: { rest: GatewayRestClient; token: string };
  const onConnection = (e: { hub: string; connected: boolean }): void => {
    if (e.hub === 'market' && !e.connected) marketDrops++;
  };

  beforeAll(async () => {
    h = await startHarness({
      env: { MARKET_DATA_TIMEFRAMES: '1m', BAR_CACHE_SIZE: '10', STALE_AFTER_MS: '60000' },
      sim: { market: { tradesPerSecond: 0 } },
      contracts: ['MNQ'],
      app: { backfill: false, hubToken: { clock: () => tokenNow, checkEveryMs: 50 } },
    });
    h.sim.on('hubConnection', onConnection);
  }, 60_000);

  afterAll(async () => {
    h?.sim.off('hubConnection', onConnection);
    for (const r of sessions) await r.close();
    await h?.close();
  });

  const sessions: GatewayRestClient[] = [];

  /** A second broker session (as a validate swap or a re-login of the main thread would give). */
  async function freshSession(): Promise<{ rest: GatewayRestClient; token: string }> {
    const rest = new GatewayRestClient({ baseUrl: h.sim.url, userName: 'demo', apiKey: 'demo-key' });
    sessions.push(rest);
    return { rest, token: await rest.login() };
  }

  /** Publishes a token as the main thread does; resolves once a second listener of the channel got it. */
  async function rotate(token: string): Promise<void> {
    const probe = new BroadcastChannel(BROKER_TOKEN_CHANNEL);
    const poster = new BroadcastChannel(BROKER_TOKEN_CHANNEL);
    try {
      const heard = new Promise<void>((resolve) => {
        probe.onmessage = () => resolve();
      });
      poster.postMessage(token);
      await heard;
    } finally {
      probe.close();
      poster.close();
    }
  }

  /**
   * A trade through the hub reaches the mark: the hub connection works (and the loop has turned many times).
   * Re-sent while a reconnect is re-subscribing (a trade before the re-subscribe is not delivered); bounded.
   */
  async function roundTrip(): Promise<void> {
    const { slot, contractId } = h.contracts[0]!;
    const m = newMark();
    for (let attempt = 1; ; attempt++) {
      price += 0.25;
      const want = price;
      h.sim.setPrice(contractId, want);
      try {
        await waitFor(() => h.state.marks.read(slot, m).last === want * PRICE_SCALE, 1_000, `mark at ${want}`);
        return;
      } catch (err) {
        if (attempt === 15) throw err;
      }
    }
  }

  it('keeps the hub connection on a rotation and opens the next connection with the new token', async () => {
    await roundTrip();
    // The start token stops working from here: a reconnect succeeds only with the rotated one.
    h.sim.faults.expireTokens();
    second = await freshSession();
    await rotate(second.token);
    await roundTrip();
    expect(marketDrops).toBe(0);
    expect(h.sim.hubConnections('market')).toBe(1);

    h.sim.faults.disconnectHubs();
    await waitFor(() => marketDrops === 1, 10_000, 'hub dropped');
    await waitFor(() => h.sim.hubConnections('market') === 1, 15_000, 'hub reconnected');
    await roundTrip();
    expect(marketDrops).toBe(1);
  }, 60_000);

  it('rebuilds the connection once the token it was opened with is older than the limit, with the newest token', async () => {
    const third = await freshSession();
    await rotate(third.token);
    await roundTrip();
    const drops = marketDrops;
    expect(h.sim.hubConnections('market')).toBe(1);
    // The live connection's token is revoked (the open socket is not affected): the rebuild must use the newest.
    await second.rest.logout();

    tokenNow += HUB_TOKEN_MAX_AGE_MS + 1;
    await waitFor(() => marketDrops === drops + 1, 10_000, 'connection rebuilt');
    await waitFor(() => h.sim.hubConnections('market') === 1, 15_000, 'hub connected again');
    await roundTrip();
    expect(marketDrops).toBe(drops + 1);
  }, 60_000);
});
