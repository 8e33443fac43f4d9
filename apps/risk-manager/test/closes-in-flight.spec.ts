// The loss-limit enforcement against closes that the broker fills after its answer (found in review of 6c81891).
// A working untagged market order is the enforcement's own close in flight only when it matches one it sent
// (ClosesInFlight): another tool's market order is cancelled, not taken for a close (before, it blocked the flatten
// on every retry and filled into more exposure). And the wait for flat reads the book, not REST: its REST poll spent
// the risk-manager's own 30-per-61-s budget on every pass, so a close that then ended unfilled could not be replaced
// for most of a minute (rate limited) while the halted account stayed exposed. And a pass whose listing of the
// working orders failed no longer sends a close over the one still working (it did not know it was there).
// And a close stuck past its lease (a market order resting in a halted market) is cancelled by the sweep, never
// closed over: a pass that cannot cancel it (its listing fails) sends nothing (found in a later review).
import { createServer, request as httpRequest, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CLOSE_IN_FLIGHT_TTL_MS, ClosesInFlight, CUSTOM_TAG_PREFIX } from '@gateway/orders';
import { AccountState } from '@gateway/shared-state';
import type { Simulator } from '@gateway/topstepx-sim';
import { ACCOUNT_ID, startHarness, waitFor, type Harness } from './harness';

/** A harness, ready, long 2 MNQ at 20,000 (published). `env` as startHarness's. */
async function longTwo(env?: Parameters<typeof startHarness>[0]): Promise<Harness> {
  const h = await startHarness(env);
  await waitFor('ready', () => h.runtime.state.accounts.isReady(h.accountSlot), 60_000);
  h.move(20_000);
  await h.market(0, 2);
  await waitFor('long 2 published', () => h.position().netSize === 2, 20_000);
  return h;
}

/**
 * A close of the whole position (SELL 2) resting at the broker (the simulator's fill delay must be set), sent by "the
 * front door" with a clock 31 s behind: its lease in shared memory is already past its TTL (a stuck close). Returns
 * the close's order id.
 */
async function stuckClose(h: Harness): Promise<number> {
  const past = new ClosesInFlight(h.runtime.state.closes, (tag) => tag.startsWith(CUSTOM_TAG_PREFIX), () => Date.now() - CLOSE_IN_FLIGHT_TTL_MS - 1_000, 'front-door');
  const go = await past.acquire(ACCOUNT_ID, h.contractId, 1, 2, () => Promise.resolve(false));
  if (!go.send) throw new Error(`stuck close: the lease was refused (${go.reason})`);
  await h.runtime.rest.closeContract({ accountId: ACCOUNT_ID, contractId: h.contractId });
  past.markSent(go);
  const close = await waitFor('the stuck close working', () => h.sim.orders(ACCOUNT_ID).find((o) => o['customTag'] === null && o['status'] === 1), 20_000);
  return Number(close['id']);
}

/** Waits (generously) for the condition; false instead of a throw, so the assertion can say what was seen. */
const eventually = (what: string, cond: () => boolean): Promise<boolean> =>
  waitFor(what, cond, 20_000).then(
    () => true,
    () => false,
  );

/**
 * A loopback proxy in front of the simulator's REST API that, while `failing`, answers every working-orders listing
 * (Order/v2/query) with HTTP 400 and passes everything else through. The hubs stay direct.
 */
class ListingFailure {
  failing = false;
  private server: Server | undefined;
  private target = '';

  async env(sim: Simulator): Promise<Record<string, string>> {
    this.target = sim.url;
    this.server = createServer((req, res) => {
      if (this.failing && /^\/api\/order\/v2\/query/i.test(req.url ?? '')) {
        req.resume();
        res.writeHead(400, { 'content-type': 'application/problem+json' });
        res.end(JSON.stringify({ title: 'listing failed (test)', status: 400 }));
        return;
      }
      const up = httpRequest(new URL(req.url ?? '/', this.target), { method: req.method, headers: req.headers }, (r) => {
        res.writeHead(r.statusCode ?? 502, r.headers);
        r.pipe(res);
      });
      up.on('error', () => res.destroy());
      req.pipe(up);
    });
    await new Promise<void>((done) => this.server!.listen(0, '127.0.0.1', done));
    const port = (this.server.address() as AddressInfo).port;
    return { TOPSTEPX_API_URL: `http://127.0.0.1:${port}`, TOPSTEPX_USER_HUB_URL: sim.userHubUrl, TOPSTEPX_MARKET_HUB_URL: sim.marketHubUrl };
  }

  async close(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((done) => (this.server ? this.server.close(() => done()) : done()));
  }
}

describe('loss-limit enforcement and closes in flight', () => {
  let h: Harness;
  beforeEach(async () => {
    h = await longTwo();
  }, 120_000);
  afterEach(async () => {
    await h?.close();
  });

  it("HALTED on the DLL with another tool's market order working: flattened, nothing left working", async () => {
    // Another tool's market BUY 1 that the exchange has not filled yet (no TradingBot tag).
    h.sim.faults.set({ fillDelayMs: 600_000 });
    await h.market(0, 1);
    h.sim.faults.reset();
    expect(h.workingAtBroker()).toBe(1);

    h.move(19_400); // −$2,400 on 2 MNQ against the $1,000 DLL
    await waitFor('HALTED', () => h.account().state === AccountState.HALTED, 20_000);
    const seen = (): string => `net ${h.brokerNet()}, working ${h.workingAtBroker()}`;
    const flat = await eventually('flat at the broker, nothing working', () => h.brokerNet() === 0 && h.workingAtBroker() === 0);
    expect(flat, `20 s after HALTED: ${seen()}`).toBe(true);
  }, 90_000);

  it('a close that ends unfilled at the broker is replaced promptly', async () => {
    h.sim.faults.set({ fillDelayMs: 600_000 }); // the enforcement's close works without filling
    h.move(19_400);
    await waitFor('HALTED', () => h.account().state === AccountState.HALTED, 20_000);
    const close = await waitFor('the enforcement close working', () => h.sim.orders(ACCOUNT_ID).find((o) => o['customTag'] === null && o['status'] === 1), 20_000);
    // Three enforcement passes while it works (each waits up to 2 s for flat).
    await waitFor('3 enforcement retries', () => h.events.filter((e) => e.type === 'ENFORCEMENT_RETRY').length >= 3, 30_000);
    h.sim.faults.reset();
    // The close ends unfilled at the broker (cancelled in the TopstepX UI / by the exchange).
    await h.runtime.rest.cancelOrder({ accountId: ACCOUNT_ID, orderId: Number(close['id']) });
    const flat = await eventually('flat at the broker', () => h.brokerNet() === 0);
    expect(flat, `20 s after the close ended unfilled: net ${h.brokerNet()}`).toBe(true);
  }, 120_000);

  it('a close stuck past its lease is cancelled by the sweep, then the position is closed (one close fills)', async () => {
    const entries = h.sim.orders(ACCOUNT_ID).length;
    h.sim.faults.set({ fillDelayMs: 600_000 });
    const stuck = await stuckClose(h);
    h.sim.faults.reset(); // the enforcement's own close fills at once
    h.move(19_400); // −$2,400 on 2 MNQ against the $1,000 DLL
    await waitFor('HALTED', () => h.account().state === AccountState.HALTED, 20_000);
    const closes = () => h.sim.orders(ACCOUNT_ID).slice(entries).filter((o) => o['customTag'] === null);
    const seen = (): string => `net ${h.brokerNet()}, closes ${JSON.stringify(closes().map((o) => ({ id: o['id'], status: o['status'], size: o['size'] })))}`;
    const flat = await eventually('flat, nothing working', () => h.brokerNet() === 0 && h.workingAtBroker() === 0);
    expect(flat, `20 s after HALTED: ${seen()}`).toBe(true);
    // The stuck close was cancelled (not left to fill into a short), and exactly one close filled.
    expect(closes().find((o) => Number(o['id']) === stuck)?.['status']).toBe(3);
    expect(closes().filter((o) => o['status'] === 2).map((o) => o['size'])).toEqual([2]);
  }, 120_000);
});

describe('loss-limit enforcement when the working orders cannot be listed', () => {
  let h: Harness | undefined;
  const proxy = new ListingFailure();
  afterEach(async () => {
    await h?.close();
    await proxy.close();
    proxy.failing = false;
  });

  it('sends no second close over the one still working while its listing fails', async () => {
    h = await longTwo((sim) => proxy.env(sim));
    const entries = h.sim.orders(ACCOUNT_ID).length;
    h.sim.faults.set({ fillDelayMs: 600_000 }); // the enforcement's close works without filling
    h.move(19_400); // −$2,400 on 2 MNQ against the $1,000 DLL
    await waitFor('HALTED', () => h!.account().state === AccountState.HALTED, 20_000);
    const closes = () => h!.sim.orders(ACCOUNT_ID).slice(entries).filter((o) => o['customTag'] === null);
    await waitFor('the enforcement close working', () => closes().some((o) => o['status'] === 1), 20_000);
    // From now on every pass's CANCEL_ALL_ORDERS listing fails: it cannot see the close that works.
    proxy.failing = true;
    const retries = () => h!.events.filter((e) => e.type === 'ENFORCEMENT_RETRY').length;
    const before = retries();
    await waitFor('3 enforcement passes with the listing failing', () => retries() >= before + 3, 30_000);
    expect(closes().map((o) => ({ status: o['status'], size: o['size'] }))).toEqual([{ status: 1, size: 2 }]);
    expect(h.brokerNet()).toBe(2);
  }, 120_000);

  it('sends no second close over a close stuck past its lease while the listing fails (it cannot be cancelled)', async () => {
    h = await longTwo((sim) => proxy.env(sim));
    const entries = h.sim.orders(ACCOUNT_ID).length;
    h.sim.faults.set({ fillDelayMs: 600_000 }); // no close fills
    await stuckClose(h);
    // Every listing fails: the sweep cannot see (cancel) the stuck close, and the FLATTEN cannot check it.
    proxy.failing = true;
    h.move(19_400);
    await waitFor('HALTED', () => h!.account().state === AccountState.HALTED, 20_000);
    const retries = () => h!.events.filter((e) => e.type === 'ENFORCEMENT_RETRY').length;
    const before = retries();
    await waitFor('3 enforcement passes with the listing failing', () => retries() >= before + 3, 30_000);
    const closes = h.sim.orders(ACCOUNT_ID).slice(entries).filter((o) => o['customTag'] === null);
    expect(closes.map((o) => ({ status: o['status'], size: o['size'] }))).toEqual([{ status: 1, size: 2 }]);
    expect(h.brokerNet()).toBe(2);
  }, 120_000);
});
