// `npm run sim:demo`: the broker client against the simulator, end to end, as a new user would try
// it: log in, resolve the MNQ front month, place a market order with a stop-loss and take-profit
// bracket, see the fill and the position on the user hub, close the position, sweep the bracket
// orders that Position/closeContract leaves working, and print the realized P&L in dollars.
import { createSimulator } from '@gateway/topstepx-sim';
import {
  GatewayRestClient,
  OrderSide,
  OrderStatus,
  OrderType,
  UserHubClient,
  WORKING_ORDER_STATUSES,
  type GatewayUserOrder,
  type GatewayUserPosition,
  type GatewayUserTrade,
} from '@gateway/topstepx';

const say = (line: string): void => void process.stdout.write(`${line}\n`);

function waitFor<T>(what: string, register: (done: (v: T) => void) => void, timeoutMs = 30_000): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), timeoutMs);
    register((v) => {
      clearTimeout(timer);
      resolve(v);
    });
  });
}

const sim = await createSimulator({ seed: 7, market: { tradesPerSecond: 20 } });
say(`simulator on ${sim.url}`);
const rest = new GatewayRestClient({ baseUrl: sim.url, userName: 'demo', apiKey: 'demo-key' });
const hub = new UserHubClient({ url: sim.userHubUrl, accessTokenFactory: () => rest.token ?? '' });
try {
  await rest.login();
  say('logged in (Auth/loginKey)');
  const account = ((await rest.searchAccounts(true)) ?? []).find((a) => a.canTrade);
  if (!account) throw new Error('no tradable account');
  const mnq = ((await rest.availableContracts(false)) ?? []).find((c) => c.activeContract && /^MNQ[FGHJKMNQUVXZ]\d{1,2}$/.test(c.name));
  if (!mnq) throw new Error('no active MNQ contract');
  say(`account ${account.id} ${account.name}, balance $${account.balance}; MNQ front month ${mnq.id} (tick ${mnq.tickSize} = $${mnq.tickValue})`);

  const orders = new Map<number, GatewayUserOrder>();
  const trades: GatewayUserTrade[] = [];
  const positions: GatewayUserPosition[] = [];
  const listeners = new Set<() => void>();
  const notify = (): void => listeners.forEach((l) => l());
  hub.onOrder((o) => {
    orders.set(o.id, o);
    notify();
  });
  hub.onTrade((t) => {
    trades.push(t);
    notify();
  });
  hub.onPosition((p) => {
    positions.push(p);
    notify();
  });
  await hub.start();
  await hub.subscribeOrders(account.id);
  await hub.subscribeTrades(account.id);
  await hub.subscribePositions(account.id);
  say('user hub connected and subscribed (orders, trades, positions)');

  const until = (what: string, cond: () => boolean): Promise<void> =>
    waitFor<void>(what, (done) => {
      const check = (): void => {
        if (cond()) {
          listeners.delete(check);
          done();
        }
      };
      listeners.add(check);
      check();
    });

  const tag = `demo-${Date.now()}`;
  const orderId = await rest.placeOrder({
    accountId: account.id,
    contractId: mnq.id,
    type: OrderType.Market,
    side: OrderSide.Bid,
    size: 1,
    customTag: tag,
    // Signed ticks relative to the entry: long → stop loss below (negative), take profit above.
    stopLossBracket: { ticks: -40, type: OrderType.Stop },
    takeProfitBracket: { ticks: 80, type: OrderType.Limit },
  });
  say(`Order/place market BUY 1 with bracket SL -40 / TP +80 ticks → orderId ${orderId} (customTag ${tag})`);
  await until('the fill', () => orders.get(orderId)?.status === OrderStatus.Filled);
  const entry = orders.get(orderId)!;
  say(`filled at ${entry.filledPrice} (GatewayUserOrder status 2 Filled)`);
  await until('the position', () => positions.some((p) => p.contractId === mnq.id && p.size === 1));
  say('position on the user hub: 1 long (GatewayUserPosition type 1, size 1)');
  const children = [...orders.values()].filter((o) => o.id !== orderId && o.contractId === mnq.id && (WORKING_ORDER_STATUSES as readonly number[]).includes(o.status));
  say(`bracket orders working: ${children.map((o) => `#${o.id} type ${o.type} status ${o.status}`).join(', ') || 'none yet'}`);

  // Let the market move a little, then close.
  for (let i = 0; i < 20; i++) sim.step(mnq.id, 1);
  await rest.closeContract({ accountId: account.id, contractId: mnq.id });
  say('Position/closeContract sent');
  await until('the closing trade', () => trades.some((t) => t.contractId === mnq.id && t.profitAndLoss !== null && t.profitAndLoss !== undefined));

  // closeContract leaves the bracket orders working: an orphan stop could later open a naked position.
  const open = (await rest.queryAllOrders({ accountId: account.id, statuses: [...WORKING_ORDER_STATUSES], contractId: mnq.id })) ?? [];
  for (const o of open) await rest.cancelOrder({ accountId: account.id, orderId: o.id });
  say(`swept ${open.length} working order(s) that closeContract left behind`);

  const fills = (await rest.searchTrades({ accountId: account.id, startTimestamp: new Date(Date.now() - 3_600_000).toISOString() })) ?? [];
  const mine = fills.filter((t) => t.contractId === mnq.id && !t.voided);
  const gross = mine.reduce((s, t) => s + Math.round((t.profitAndLoss ?? 0) * 10_000), 0);
  const fees = mine.reduce((s, t) => s + Math.round(t.fees * 10_000), 0);
  const dollars = (units: number): string => `${units < 0 ? '-' : ''}$${(Math.abs(units) / 10_000).toFixed(2)}`;
  say(`realized P&L: gross ${dollars(gross)}, fees ${dollars(fees)}, net ${dollars(gross - fees)}`);
} finally {
  await hub.stop();
  await rest.close();
  await sim.close();
}
