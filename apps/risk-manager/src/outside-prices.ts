// Prices of the contracts outside the engine's CONTRACTS that an account holds (a position opened in the
// TopstepX UI, a contract the trader did not configure): market-data writes shared-memory marks only for the
// directory's contracts, so the risk-manager watches these on its own market-hub connection (outside-feed.ts)
// and keeps the latest price here. No I/O: the feed hands it the hub's trades and quotes, parsed to price units.
// Thread: the risk-manager thread only.

/** What AccountRisk reads for a contract without a directory slot. */
export interface OutsidePriceSource {
  /** The contract's price in price units (1e-9): last trade, else the quote mid; undefined when none is known. */
  price(contractId: string): number | undefined;
  /** A price is known and fresh enough to value the position by (see OutsidePrices.usable). */
  usable(contractId: string): boolean;
}

/** No outside feed: every open position in a contract outside the directory is unpriced. */
export const NO_OUTSIDE_PRICES: OutsidePriceSource = Object.freeze({
  price: () => undefined,
  usable: () => false,
});

export interface OutsidePricesOptions {
  /** STALE_AFTER_MS (market-data's threshold): a price not updated for longer is not usable. */
  staleAfterMs: number;
  /** Wall clock, epoch ms: the receive time of an update, compared with now. */
  now: () => number;
  /**
   * The exchange session is open (isSessionOpen on the risk clock). Outside it no update is due, so a known
   * price stays usable, as market-data's marks only go stale in trading hours.
   */
  sessionOpen: () => boolean;
}

interface Entry {
  /** Last trade in price units; 0 = none yet. */
  last: number;
  /** Timestamp of the trade `last` came from (capped at the receive time): an older print does not replace it. */
  lastTradeTs: number;
  bid: number;
  ask: number;
  /** Receive time (wall clock) of the last trade or quote; 0 = nothing yet. */
  updatedMs: number;
}

export class OutsidePrices implements OutsidePriceSource {
  private readonly entries = new Map<string, Entry>();

  constructor(private readonly options: OutsidePricesOptions) {}

  /** Starts keeping a contract's price (nothing known yet). */
  watch(contractId: string): void {
    if (!this.entries.has(contractId)) this.entries.set(contractId, { last: 0, lastTradeTs: 0, bid: 0, ask: 0, updatedMs: 0 });
  }

  /** Forgets a contract no account holds any more: a later position starts unpriced again. */
  forget(contractId: string): void {
    this.entries.delete(contractId);
  }

  /**
   * A trade (price units, exchange timestamp ms). As market-data does for the marks: the price follows the
   * newest print by exchange time, and the stamp kept is capped at the receive time so one print stamped in the
   * future cannot freeze the price. Every valid trade refreshes the update time.
   */
  trade(contractId: string, priceUnits: number, tsMs: number): void {
    const e = this.entries.get(contractId);
    if (e === undefined || !Number.isSafeInteger(priceUnits) || priceUnits <= 0 || !Number.isSafeInteger(tsMs)) return;
    const now = this.options.now();
    if (tsMs >= e.lastTradeTs) {
      e.lastTradeTs = Math.min(tsMs, now);
      e.last = priceUnits;
    }
    e.updatedMs = now;
  }

  /** The merged best bid / ask (price units; 0 = not known). */
  quote(contractId: string, bidUnits: number, askUnits: number): void {
    const e = this.entries.get(contractId);
    if (e === undefined || !Number.isSafeInteger(bidUnits) || !Number.isSafeInteger(askUnits)) return;
    e.bid = bidUnits;
    e.ask = askUnits;
    e.updatedMs = this.options.now();
  }

  /** Last trade, else the mid (rounded to a price unit), as AccountRisk reads the shared marks. */
  price(contractId: string): number | undefined {
    const e = this.entries.get(contractId);
    if (e === undefined) return undefined;
    if (e.last !== 0) return e.last;
    if (e.bid > 0 && e.ask > 0) return Math.round((e.bid + e.ask) / 2);
    return undefined;
  }

  /** A price is known and, while the session is open, was updated within staleAfterMs. */
  usable(contractId: string): boolean {
    const e = this.entries.get(contractId);
    if (e === undefined || this.price(contractId) === undefined) return false;
    return !this.options.sessionOpen() || this.options.now() - e.updatedMs <= this.options.staleAfterMs;
  }
}
