// The closes this engine sent with `Position/closeContract` / `partialCloseContract` and that may still work at the
// broker: those endpoints answer before the exchange fills the market order they work, and carry no tag of ours, so a
// working untagged market order is ours only if it matches a close we sent (contract, closing side, size, recent).
// Sweeps leave only those alone (cancelling one leaves the position open behind a "closed" answer) and a second
// close is not sent over one (both would fill: a naked opposite position). Anything else untagged — an entry from
// another tool — is cancelled as before, and a close still working past the TTL is taken as stuck: cancelled, and
// the next pass may close again. One instance per thread that sends closes; the clock is injected.

/** A close this long after it was sent is no longer taken as in flight (a market order that has not filled is stuck). */
export const CLOSE_IN_FLIGHT_TTL_MS = 30_000;

/** Order side on the wire: 0 bid (buy), 1 ask (sell). */
export type WireSide = 0 | 1;

interface SentClose {
  side: WireSide;
  size: number;
  sentAtMs: number;
}

/** The fields of a broker order this needs (Order/v2/query rows and user-hub order events both have them). */
export interface WorkingOrderView {
  accountId: number;
  contractId: string;
  /** OrderType on the wire: 2 = Market. */
  type: number;
  side: number;
  size: number;
  customTag?: string | null;
}

const MARKET = 2;

export class ClosesInFlight {
  private readonly sent = new Map<string, SentClose>();

  constructor(
    private readonly isOurTag: (tag: string) => boolean,
    private readonly clock: () => number,
    private readonly ttlMs = CLOSE_IN_FLIGHT_TTL_MS,
  ) {}

  /** The side of the market order that closes a position of this signed net size (long > 0 closes by selling). */
  static closingSide(netSize: number): WireSide {
    return netSize > 0 ? 1 : 0;
  }

  /** Records a close the broker accepted (its answer came): `size` contracts on `side`. */
  record(accountId: number, contractId: string, side: WireSide, size: number): void {
    if (!(size > 0)) return;
    this.sent.set(key(accountId, contractId), { side, size, sentAtMs: this.clock() });
  }

  /** True when `o` is a working untagged market order matching a close recorded within the TTL. */
  isOurs(o: WorkingOrderView): boolean {
    if (o.type !== MARKET || this.isOurTag(o.customTag ?? '')) return false;
    const s = this.live(o.accountId, o.contractId);
    return s !== undefined && o.side === s.side && o.size <= s.size;
  }

  /** True when a close of the contract was recorded within the TTL (it may have filled since: check the orders). */
  pending(accountId: number, contractId: string): boolean {
    return this.live(accountId, contractId) !== undefined;
  }

  /** True when any close of the account was recorded within the TTL. */
  anyPending(accountId: number): boolean {
    const prefix = `${accountId}:`;
    for (const k of this.sent.keys()) if (k.startsWith(prefix) && this.live(accountId, k.slice(prefix.length))) return true;
    return false;
  }

  private live(accountId: number, contractId: string): SentClose | undefined {
    const k = key(accountId, contractId);
    const s = this.sent.get(k);
    if (s === undefined) return undefined;
    if (this.clock() - s.sentAtMs >= this.ttlMs) {
      this.sent.delete(k);
      return undefined;
    }
    return s;
  }
}

function key(accountId: number, contractId: string): string {
  return `${accountId}:${contractId}`;
}
