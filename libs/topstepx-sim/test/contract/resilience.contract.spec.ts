// Contract tests of the failure paths: the two 429 buckets against the client's rate gate, a 429
// burst on reads, and an Order/place whose answer never arrives (the unknown outcome).
import {
  GatewayError,
  OrderStatus,
  OrderType,
  TopstepxErrorCode,
  UnknownOutcomeError,
  createLocalRateGate,
  resolveOrderByTag,
  type RateGate,
} from '@gateway/topstepx';
import { afterEach, describe, expect, it } from 'vitest';
import { post } from '../helpers';
import { ACCOUNT, Fixtures, MNQ, T0, caught, recordRequests } from './contract-helpers';

const fx = new Fixtures();
afterEach(() => fx.closeAll());

/** The documented buckets (200/60 s, 50/30 s) scaled down so the gate's waits last about a second. */
const LIMITS = { general: { limit: 20, windowMs: 1_000 }, bars: { limit: 5, windowMs: 1_000 } };

describe('acceptance: 429s and unknown outcomes', () => {
  it('429 from two independent buckets: the local rate gate keeps a burst of reads under both (no 429 seen server-side)', async () => {
    // Client gate and server buckets read one manual clock that only moves while no granted request
    // is in flight, so a request is stamped by the server at the instant the gate granted it. With a
    // real clock, queueing and scheduling delays shift arrival times against grant times; that
    // jitter (which production absorbs with a margin on the shared gate) is not the contract here.
    const sim = await fx.sim({ rateLimits: LIMITS });
    const seen = recordRequests(sim);
    const inner = createLocalRateGate(LIMITS);
    let granted = 0;
    const gate: RateGate = {
      tryAcquire(bucket, nowMs) {
        const wait = inner.tryAcquire(bucket, nowMs);
        if (wait === 0) granted++;
        return wait;
      },
    };
    const driver = setInterval(() => {
      if (granted === seen.length) sim.clock.now += 100;
    }, 5);
    const rest = await fx.rest(sim, { rateGate: gate, clock: () => sim.clock.now, requestTimeoutMs: 10_000 });
    const bars = {
      contractId: MNQ,
      live: false,
      startTime: new Date(T0 - 3_600_000).toISOString(),
      endTime: new Date(T0).toISOString(),
      unit: 2 as const,
      unitNumber: 1,
      limit: 10,
      includePartialBar: false,
    };
    const general = Array.from({ length: 30 }, () => rest.searchAccounts(true));
    const history = Array.from({ length: 8 }, () => rest.retrieveBars(bars));
    const [accounts, barSets] = await Promise.all([Promise.all(general), Promise.all(history)]).finally(() => clearInterval(driver));
    expect(accounts.every((a) => a?.length === 3)).toBe(true);
    expect(barSets.every((b) => b?.length === 10)).toBe(true);
    expect(seen.filter((r) => r.status === 429)).toEqual([]);
    expect(seen.filter((r) => r.endpoint === 'Account/search' && r.status === 200)).toHaveLength(30);
    expect(seen.filter((r) => r.endpoint === 'History/retrieveBars' && r.status === 200)).toHaveLength(8);
    expect(seen.filter((r) => r.endpoint === 'Auth/loginKey' && r.status === 200)).toHaveLength(1);

    // Control: the server's buckets were really in force. An ungated burst is refused…
    const ungated = await Promise.all(Array.from({ length: 25 }, () => post(sim, 'Account/search', { onlyActiveAccounts: true }, rest.token)));
    expect(ungated.filter((r) => r.status === 429).length).toBeGreaterThan(0);
    expect(ungated.find((r) => r.status === 429)!.headers['retry-after']).toMatch(/^\d+$/);
    // …and the bars bucket is independent: with general exhausted, a bars request still passes (the
    // last 3 of the 8 gated bars requests are the only ones inside the bars window).
    const bar = await post(sim, 'History/retrieveBars', bars, rest.token);
    expect(bar.status).toBe(200);
    expect(bar.json['success']).toBe(true);
  });

  it('Under a 429 burst reads succeed after backoff (Retry-After honoured); a place refused with 429 is an unknown outcome that resolves to "not placed"', async () => {
    const sim = await fx.sim();
    const rest = await fx.rest(sim);
    const seen = recordRequests(sim);
    sim.faults.set({ rateLimitBurst: 3 });
    const results = await Promise.all([rest.searchAccounts(true), rest.searchOpenOrders(ACCOUNT), rest.searchOpenPositions(ACCOUNT)]);
    expect(results[0]?.map((a) => a.id)).toEqual([1001, 1002, 1003]);
    expect(results[1]).toEqual([]);
    expect(results[2]).toEqual([]);
    expect(seen.filter((r) => r.status === 429)).toHaveLength(3);
    expect(seen.filter((r) => r.status === 200)).toHaveLength(3);

    sim.faults.set({ rateLimitBurst: 1 });
    const sentAt = sim.clock.now;
    const err = await caught(rest.placeOrder({ accountId: ACCOUNT, contractId: MNQ, type: OrderType.Market, side: 0, size: 1, customTag: 'burst-1' }));
    expect(err).toBeInstanceOf(UnknownOutcomeError);
    expect(err).toMatchObject({ code: TopstepxErrorCode.UnknownOutcome, reason: 'rate-limited', endpoint: 'Order/place' });
    expect(err.extra?.customTag).toBe('burst-1');
    expect(await resolveOrderByTag(rest, ACCOUNT, 'burst-1', sentAt)).toBeUndefined();
    expect(sim.orders(ACCOUNT).filter((o) => o['customTag'] === 'burst-1')).toEqual([]);
  });

  it('An Order/place the simulator processes but never answers → UnknownOutcomeError, resolved by its customTag — never two orders', async () => {
    const sim = await fx.sim();
    // A short timeout only for the place that will be lost; reconciliation uses an ordinary client.
    const lossy = await fx.rest(sim, { requestTimeoutMs: 400 });
    const rest = await fx.rest(sim);
    for (const [mode, reason, tag, type] of [
      ['hang', 'timeout', 'lost-hang', OrderType.Market],
      ['reset', 'connection-lost', 'lost-reset', OrderType.Limit],
    ] as const) {
      sim.faults.set({ placeTimeouts: 1, placeTimeoutMode: mode });
      const sentAt = sim.clock.now;
      const err = await caught(lossy.placeOrder({ accountId: ACCOUNT, contractId: MNQ, type, side: 0, size: 1, limitPrice: type === OrderType.Limit ? 20990 : null, customTag: tag }));
      expect(err).toBeInstanceOf(UnknownOutcomeError);
      expect(err).toMatchObject({ endpoint: 'Order/place', reason });
      expect(err.extra?.customTag).toBe(tag);

      const found = await resolveOrderByTag(rest, ACCOUNT, tag, sentAt);
      expect(found).toMatchObject({ customTag: tag, accountId: ACCOUNT, contractId: MNQ, status: type === OrderType.Market ? OrderStatus.Filled : OrderStatus.Open });
      // Resending with the same tag is refused by the server: the tag is the idempotency handle.
      const resend = await caught(rest.placeOrder({ accountId: ACCOUNT, contractId: MNQ, type: OrderType.Market, side: 0, size: 1, customTag: tag }));
      expect(resend).toBeInstanceOf(GatewayError);
      expect(resend).toMatchObject({ errorCode: 2, errorMessage: 'custom tag already in use' });
      const mine = sim.orders(ACCOUNT).filter((o) => o['customTag'] === tag);
      expect(mine.map((o) => o['id'])).toEqual([found!.id]);
    }
    // The simulator kept serving through both faults.
    expect(await rest.ping()).toBe('pong');
    expect(sim.faults.current().placeTimeouts).toBe(0);
  });
});
