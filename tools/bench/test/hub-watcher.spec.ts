// The trade → subscriber watcher against a real simulator (in-process, ephemeral loopback port): the SignalR
// handshake, the acknowledged trade subscriptions and the batches it stamps must agree with the trades the
// simulator generated.
import { createSimulator, type Simulator } from '@gateway/topstepx-sim';
import { afterEach, describe, expect, it } from 'vitest';
import { watchHubTrades, type HubWatcher } from '../src/hub-watcher';
import { TradeIndex, type TradeBatch } from '../src/tick-latency';

let sim: Simulator | undefined;
let watcher: HubWatcher | undefined;

afterEach(async () => {
  watcher?.stop();
  await sim?.close();
  watcher = undefined;
  sim = undefined;
});

async function post<T>(url: string, body: unknown, token?: string): Promise<T> {
  const headers: Record<string, string> = { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) };
  return (await (await fetch(url, { method: 'POST', headers, body: JSON.stringify(body) })).json()) as T;
}

async function activeContract(simUrl: string, root: string): Promise<string> {
  const { token } = await post<{ token: string }>(`${simUrl}/api/Auth/loginKey`, { userName: 'demo', apiKey: 'demo-key' });
  const { contracts } = await post<{ contracts: { id: string; name: string; activeContract: boolean }[] }>(`${simUrl}/api/Contract/available`, { live: false }, token);
  return contracts.find((c) => c.activeContract && c.name.startsWith(root))!.id;
}

describe('watchHubTrades', () => {
  it('stamps every GatewayTrade message of the simulator, with runs that match the trades generated', async () => {
    // A frozen clock puts every trade in one 1-s bucket: [second, second + 1000).
    const second = Math.floor(Date.now() / 1000) * 1000;
    sim = await createSimulator({ rateLimits: false, clock: () => second + 500, market: { tradesPerSecond: 0, historyDays: 1 } });
    const seen: TradeBatch[] = [];
    let wake: (() => void) | undefined;
    watcher = await watchHubTrades(sim.url, (b) => {
      seen.push(b);
      wake?.();
    });
    expect(watcher.contracts).toBeGreaterThan(0);
    const id = await activeContract(sim.url, 'MNQ');

    // watchHubTrades resolved once the hub acknowledged every subscription, so these trades reach the watcher.
    const arrived = new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error('no batches within 20 s')), 20_000);
      wake = () => {
        if (seen.length < 2) return;
        clearTimeout(t);
        resolve();
      };
    });
    sim.step(id, 7);
    sim.step(id, 5);
    await arrived;

    expect(seen.map((b) => b.c)).toEqual([id, id]);
    expect(seen.map((b) => b.r)).toEqual([[[second + 500, 7, expect.any(Number)]], [[second + 500, 5, expect.any(Number)]]]);
    expect(seen[1]!.a).toBeGreaterThanOrEqual(seen[0]!.a);
    expect(watcher.batches).toEqual(seen);

    // A bar frame holding all twelve trades, for a subscriber that had seen seven, is timed from the second batch.
    // (An earlier trade stands for the watcher having seen the bucket from its start.)
    const volume = seen[0]!.r[0]![2] + seen[1]!.r[0]![2];
    const index = new TradeIndex([{ c: id, a: 0, r: [[second - 1, 1, 1]] }, ...seen]);
    expect(index.match({ contractId: id, t: second, end: second + 1000, n: 12, v: volume, prevN: 7, receivedUs: seen[1]!.a + 10 })).toEqual({ latencyUs: 10 });
  });

  it('fails with the reason when the simulator refuses the login', async () => {
    sim = await createSimulator({ rateLimits: false, credentials: { userName: 'someone', apiKey: 'else' }, market: { tradesPerSecond: 0, historyDays: 1 } });
    await expect(watchHubTrades(sim.url)).rejects.toThrow(/Auth\/loginKey/);
  });
});
