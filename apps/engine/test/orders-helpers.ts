// Shared helpers of the order tests: a gRPC client of the OrderService, promisified calls, and a
// stand-in for the risk-manager and market-data writers while those threads do not publish yet.
import { credentials, Metadata, type ServiceError } from '@grpc/grpc-js';
import { orders } from '@gateway/proto';
import type { ContractInfo, AccountInfo } from '@gateway/runtime';
import { AccountState, newAccountRecord, newMark, type SharedState } from '@gateway/shared-state';
import { waitFor } from './helpers';

export type OrdersClient = InstanceType<typeof orders.OrderServiceClient>;

export function ordersClient(port: number): OrdersClient {
  return new orders.OrderServiceClient(`127.0.0.1:${port}`, credentials.createInsecure());
}

export interface CallError {
  code: number;
  details: string;
  metadata: Record<string, string>;
}

/** A unary call as a promise; a failed call resolves to its status (code, details, trailing metadata). */
export function call<Req, Res>(
  client: OrdersClient,
  method: 'placeOrder' | 'placeBatch' | 'getOrderStatus' | 'cancelOrder' | 'modifyOrder' | 'closePosition' | 'flattenAll',
  req: Req,
  deadlineMs = 30_000,
): Promise<{ ok: true; value: Res } | { ok: false; error: CallError }> {
  return new Promise((resolve) => {
    const fn = (client as unknown as Record<string, (r: Req, m: Metadata, o: object, cb: (e: ServiceError | null, v: Res) => void) => void>)[method]!;
    fn.call(client, req, new Metadata(), { deadline: Date.now() + deadlineMs }, (err, value) => {
      if (err) {
        const md: Record<string, string> = {};
        for (const [k, v] of Object.entries(err.metadata?.getMap() ?? {})) md[k] = String(v);
        resolve({ ok: false, error: { code: err.code, details: err.details, metadata: md } });
      } else resolve({ ok: true, value });
    });
  });
}

export function orderRequest(partial: Partial<orders.OrderRequest>): orders.OrderRequest {
  return orders.OrderRequest.fromPartial({ symbol: 'MNQ', side: 'BUY', quantity: 1, strategyName: 'overnight_range', ...partial });
}

/**
 * While the risk-manager and market-data threads do not publish yet (their services are written in
 * parallel), the test stands in for them: an ACTIVE account with generous limits, and fresh marks.
 * When the real writers publish within `graceMs`, nothing is written.
 */
export async function standInForRiskAndMarks(
  state: SharedState,
  accounts: readonly AccountInfo[],
  contracts: readonly ContractInfo[],
  graceMs = 3_000,
): Promise<void> {
  const acct = accounts[0]!;
  try {
    await waitFor(() => state.accounts.isReady(acct.slot), graceMs, 'risk state');
  } catch {
    const rec = newAccountRecord();
    rec.accountId = acct.accountId;
    rec.state = AccountState.ACTIVE;
    rec.maxPositionUnits = 1_000_000;
    rec.maxOpenOrders = 100_000;
    rec.maxOrdersPerMinute = 0;
    rec.updatedMs = Date.now();
    state.accounts.writeAccount(acct.slot, rec);
    state.accounts.setReady(acct.slot, true);
  }
  const m = newMark();
  for (const c of contracts) {
    state.marks.read(c.slot, m);
    if (state.marks.isStale(c.slot) || m.last === 0) {
      const price = c.root === 'MNQ' || c.root === 'NQ' ? 21_000_000_000_000 : 6_000_000_000_000;
      state.marks.write(c.slot, { last: price, bid: price - c.tickSizeUnits, ask: price + c.tickSizeUnits, lastTradeMs: Date.now(), updatedMs: Date.now() });
      state.marks.setStale(c.slot, false);
    }
  }
}
