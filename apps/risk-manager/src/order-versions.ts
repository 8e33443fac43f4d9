// The version (updateTimestamp) of each order the risk-manager applied, so that an older event for the order
// is not applied over a newer one. Older events arrive when the user hub's events, queued while the REST
// rebuild ran (start, hub reconnect), are applied after the rebuild's rows; the hub itself delivers one
// connection's events in order. Thread: the risk-manager thread only.
import { RecentMap } from './recent-map';

/**
 * Final orders whose last version is remembered (per account). An older event for an order only arrives
 * from the REST/hub overlap of a rebuild, a window of seconds, so the final versions needed are those of the
 * orders finished in the last few seconds: 4096 covers 13 minutes of the 5 orders/s soak and far more than
 * any account's order rate limit (RISK_MAX_ORDERS_PER_MINUTE, 60) allows in such a window. About 100 B each.
 * An older event for an order beyond the bound would be applied as working again and counted in
 * workingBuy/workingSell and openOrders — an over-count, the safe side for the gate — until the next rebuild.
 */
export const FINAL_ORDER_VERSIONS = 4096;

export class OrderVersions {
  /** Orders working at their last applied version → that version. As many as the account's working orders. */
  private working = new Map<number, number>();
  /** Final orders → the version that made them final; the most recent FINAL_ORDER_VERSIONS only. */
  private readonly final = new RecentMap<number, number>(FINAL_ORDER_VERSIONS);

  /**
   * True (and recorded) when `stamp` is not older than the version already applied for the order. A final
   * order is done: its final event sent again (a replay, same version) is not applied again either — its
   * fillVolume would otherwise count as fills not yet seen, the fills being applied and forgotten already.
   */
  accept(orderId: number, stamp: number, working: boolean): boolean {
    const done = this.final.get(orderId);
    if (done !== undefined && stamp <= done) return false;
    const seen = this.working.get(orderId);
    if (seen !== undefined && stamp < seen) return false;
    if (working) {
      this.final.delete(orderId);
      this.working.set(orderId, stamp);
    } else {
      this.working.delete(orderId);
      this.final.set(orderId, stamp);
    }
    return true;
  }

  /**
   * REST rebuild: `rows` are the account's working orders now. Every other order that was working here is
   * final at the broker (its hub event may still be queued): it moves to the final versions.
   */
  rebuild(rows: ReadonlyArray<{ id: number; stamp: number }>): void {
    const prior = this.working;
    this.working = new Map();
    for (const r of rows) {
      this.final.delete(r.id);
      this.working.set(r.id, r.stamp);
    }
    for (const [id, stamp] of prior) if (!this.working.has(id)) this.final.set(id, stamp);
  }

  get sizes(): { workingVersions: number; finalVersions: number } {
    return { workingVersions: this.working.size, finalVersions: this.final.size };
  }
}
