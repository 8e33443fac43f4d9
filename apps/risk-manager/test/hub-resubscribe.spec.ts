// The risk-manager's user-hub client against the simulator's user hub, in process (no worker): a subscription the
// hub refuses when it is sent at connect is re-sent on the same socket with a back-off while it stays up, instead of
// waiting for a reconnect a healthy socket never has; unsubscribe and stop end the retries. The simulator refuses
// a subscription whose accountId does not bind to the hub method's Int32 parameter (2^31), as ASP.NET Core does;
// it has no switch to refuse a valid subscription once and then accept it (the accept is covered against the fake
// hub in libs/topstepx/test/hub-client.spec.ts).
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { GatewayRestClient, HubError, UserHubClient } from '@gateway/topstepx';
import { createSimulator, type Simulator } from '@gateway/topstepx-sim';
import { waitFor } from './harness';

/** Passes the client's own check (a positive safe integer) but not the hub's Int32 binding. */
const UNBINDABLE = 2 ** 31;

describe('user hub: a refused re-subscribe is retried while connected (simulator)', () => {
  let sim: Simulator;
  let rest: GatewayRestClient;
  let hub: UserHubClient | undefined;
  /** User-hub invocations the simulator saw, as `target:args`. */
  const invoked: string[] = [];
  const count = (target: string, arg: number): number => invoked.filter((s) => s === `${target}:[${arg}]`).length;

  beforeEach(async () => {
    invoked.length = 0;
    sim = await createSimulator({ market: { tradesPerSecond: 0 }, rateLimits: false });
    sim.on('hubInvocation', ({ hub: kind, target, args }) => {
      if (kind === 'user') invoked.push(`${target}:${JSON.stringify(args)}`);
    });
    rest = new GatewayRestClient({ baseUrl: sim.url, userName: 'demo', apiKey: 'demo-key' });
    await rest.login();
  });
  afterEach(async () => {
    await hub?.stop();
    hub = undefined;
    await rest.close();
    await sim.close();
  });

  it('re-sends the refused subscriptions on the live socket, leaves the accepted ones, stops on unsubscribe and stop', async () => {
    const accountId = (await rest.searchAccounts(true))![0]!.id;
    const h = (hub = new UserHubClient({ url: sim.userHubUrl, accessTokenFactory: () => rest.token!, resubscribeDelaysMs: [10, 20, 40] }));
    // Recorded before start, as the risk-manager's are re-sent at every reconnect: refused there, no caller hears of it.
    await h.subscribeOrders(accountId);
    await h.subscribeOrders(UNBINDABLE);
    await h.subscribePositions(UNBINDABLE);
    await h.start();
    await waitFor('both refused subscriptions re-sent', () => count('SubscribeOrders', UNBINDABLE) >= 3 && count('SubscribePositions', UNBINDABLE) >= 3, 30_000);
    expect(h.connection.refusedSubscriptions).toEqual([
      { method: 'SubscribeOrders', args: [UNBINDABLE] },
      { method: 'SubscribePositions', args: [UNBINDABLE] },
    ]);
    // On one socket that stayed up, the accepted subscription sent once.
    expect([h.connection.state, sim.hubConnections('user'), count('SubscribeOrders', accountId)]).toEqual(['connected', 1, 1]);

    // The hub refuses the unsubscribe too (same binding), but the record is gone: its retries end.
    const err = (await h.unsubscribeOrders(UNBINDABLE).catch((e: unknown) => e)) as HubError;
    expect([err instanceof HubError, err.kind]).toEqual([true, 'invocation-failed']);
    const orders = count('SubscribeOrders', UNBINDABLE);
    const positions = count('SubscribePositions', UNBINDABLE);
    // Both went out in one batch per retry: two more batches without SubscribeOrders show its retries ended.
    await waitFor('two more retries of the other one', () => count('SubscribePositions', UNBINDABLE) >= positions + 2, 30_000);
    expect(count('SubscribeOrders', UNBINDABLE)).toBe(orders);
    expect(h.connection.refusedSubscriptions).toEqual([{ method: 'SubscribePositions', args: [UNBINDABLE] }]);

    await h.stop();
    expect(h.connection.refusedSubscriptions).toEqual([]);
    await waitFor('socket closed', () => sim.hubConnections('user') === 0);
  }, 60_000);
});
