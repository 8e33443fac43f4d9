// The closes of a position that this engine is sending or has sent and that may still work at the broker:
// `Position/closeContract` / `partialCloseContract` answer before the exchange fills the market order they work, and
// that order carries no tag of ours, so a working untagged market order is ours only if it matches a close we sent
// within the TTL: contract, closing side, and for a partial close size ≤ its size; a whole-position close
// (`closeContract`) matches any size, since the broker closes the position it holds, which the sender's view (the
// risk-manager's book, one fill behind) may not match. Sweeps leave only those alone (cancelling one leaves the
// position open behind a "closed" answer) and no second close is sent over one (both would fill: a naked opposite
// position). Anything else untagged — an entry from another tool — is cancelled as before. The price of the wide
// match: another tool's untagged market order on the closing side of a position the engine is closing is left
// alone by the sweeps while the lease lives (30 s at most), never longer.
//
// A stuck close — one still working past the TTL (a market order resting in a halted or locked-limit market) — is
// cancelled by a sweep, never closed over: it is no longer ours to the sweeps, and `acquire` checks the key's last
// expired lease before sending, so while that close still works (or its check cannot be read) nothing is sent. The
// risk-manager's enforcement cancels it in its sweep and closes in the same or the next pass; a trader's
// ClosePosition answers CLOSE_IN_FLIGHT until something cancels it.
//
// A view over the close leases in shared memory (@gateway/shared-state CloseLeases, ADR 0006 decision 6 and its
// amendment), so that the two threads that send closes — the front door on the main thread and the risk-manager's
// loss-limit enforcement — see each other's closes, and a close is claimed BEFORE it is sent: of two senders that
// decide at the same moment, one sends. One instance per sending thread, with that thread's sender code; the clock
// is injected (both senders use the wall clock: a lease's age is read by the other thread).
import { CLOSE_LEASE_TTL_MS, type CloseLease, type CloseLeases, type CloseLeaseView } from '@gateway/shared-state';

/** A close this long after its answer (or its claim, while no answer came) is no longer taken as in flight. */
export const CLOSE_IN_FLIGHT_TTL_MS = CLOSE_LEASE_TTL_MS;

/** The threads that send closes. */
export type CloseSender = 'front-door' | 'risk-manager';

/** How a lease names its sender (the owner word in shared memory). */
const OWNER: Readonly<Record<CloseSender, number>> = Object.freeze({ 'front-door': 1, 'risk-manager': 2 });

/** Order side on the wire: 0 bid (buy), 1 ask (sell). */
export type WireSide = 0 | 1;

/**
 * What a close closes: `WHOLE` (`Position/closeContract`: whatever the broker holds, whatever `size` the sender saw)
 * or `PARTIAL` (`partialCloseContract` of exactly `size` contracts).
 */
export type CloseScope = 'WHOLE' | 'PARTIAL';

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

/**
 * Whether a close of the contract still works at the broker: the caller's REST read of the contract's working
 * orders, true when one of them satisfies `matches`. A throw means "cannot tell" (nothing is sent then).
 */
export type StillWorking = (matches: (o: WorkingOrderView) => boolean) => Promise<boolean>;

/**
 * The decision before a close. `send: true` with a lease: send, then `markSent` after an answer or `release` after a
 * failure that certainly sent nothing. `send: true` without one: the lease table is full of sends in progress and
 * no close of the contract works — send untracked (the caller logs it). `send: false`: another close of the
 * position is in flight (`IN_FLIGHT`, by `holder`), or whether it still works could not be read (`UNKNOWN`); with
 * `stuck`, that close is past its lease (no longer ours to the sweeps: a sweep of the contract's working orders
 * cancels it, `isCloseOf(stuck, o)` names it, and the next acquire sends).
 */
export type CloseDecision =
  | { readonly send: true; readonly lease: CloseLease; readonly tookOver?: CloseLeaseView; readonly evicted?: CloseLeaseView }
  | { readonly send: true; readonly lease: undefined }
  | { readonly send: false; readonly reason: 'IN_FLIGHT' | 'UNKNOWN'; readonly holder: CloseSender | undefined; readonly stuck?: CloseLeaseView };

const MARKET = 2;
/** A lease's size for a whole-position close (CloseLeases: 0 = the whole position). */
const WHOLE_POSITION = 0;

export class ClosesInFlight {
  constructor(
    private readonly leases: CloseLeases,
    private readonly isOurTag: (tag: string) => boolean,
    private readonly clock: () => number,
    private readonly sender: CloseSender,
  ) {}

  /** The side of the market order that closes a position of this signed net size (long > 0 closes by selling). */
  static closingSide(netSize: number): WireSide {
    return netSize > 0 ? 1 : 0;
  }

  /** "the front door" / "the risk-manager", for messages about the close that holds a position. */
  static senderName(holder: CloseSender | undefined): string {
    return holder === 'front-door' ? 'the front door' : holder === 'risk-manager' ? 'the risk-manager' : 'this engine';
  }

  /**
   * Right before sending a close of `size` contracts on `side` (the side of the close's market order) of a position
   * that is open: claims the position's lease. `scope` WHOLE (the default; `closeContract`) records the close as the
   * whole position's, PARTIAL (`partialCloseContract`) as exactly `size`. Held by a send still waiting for its
   * answer: not sent. Held by an answered close: `stillWorking` decides — still working or unreadable, not sent; no
   * longer working (filled or cancelled), the lease is taken over and the close is sent. Won over an expired lease
   * of the position: `stillWorking` checks that close too — still working (stuck) or unreadable, the claim is given
   * back and nothing is sent (`stuck`); gone, the close is sent.
   */
  async acquire(accountId: number, contractId: string, side: WireSide, size: number, stillWorking: StillWorking, scope: CloseScope = 'WHOLE'): Promise<CloseDecision> {
    const recorded = scope === 'WHOLE' ? WHOLE_POSITION : size;
    const c = this.leases.tryClaim(accountId, contractId, side, recorded, this.clock(), OWNER[this.sender]);
    if (c.ok) {
      if (c.expired !== undefined) {
        const stuck = c.expired;
        const working = await stillWorking((o) => this.isCloseOf(stuck, o) && o.accountId === accountId && o.contractId === contractId).catch(() => undefined);
        if (working !== false) {
          // The claim goes back: a lease of ours would make the stuck close "ours" to the sweeps, which must cancel it.
          this.leases.release(c.lease);
          return { send: false, reason: working === undefined ? 'UNKNOWN' : 'IN_FLIGHT', holder: senderOf(stuck.owner), stuck };
        }
      }
      return c.evicted ? { send: true, lease: c.lease, evicted: c.evicted } : { send: true, lease: c.lease };
    }
    if (!('held' in c)) {
      // Every entry is a send in progress: a loss-limit flatten must not wait for a free one. Sent untracked unless
      // a close of the position visibly works (of either sender, or one sent untracked the same way).
      const closing = (o: WorkingOrderView): boolean => this.untaggedMarket(o) && o.accountId === accountId && o.contractId === contractId && o.side === side;
      const working = await stillWorking(closing).catch(() => undefined);
      if (working === undefined) return { send: false, reason: 'UNKNOWN', holder: undefined };
      return working ? { send: false, reason: 'IN_FLIGHT', holder: undefined } : { send: true, lease: undefined };
    }
    const held = c.held;
    const holder = senderOf(held.owner);
    // Its order may be on the wire, not yet visible in the broker's working orders.
    if (held.phase === 'CLAIMED') return { send: false, reason: 'IN_FLIGHT', holder };
    const working = await stillWorking((o) => o.accountId === accountId && o.contractId === contractId && this.isCloseOf(held, o)).catch(() => undefined);
    if (working === undefined) return { send: false, reason: 'UNKNOWN', holder };
    if (working) return { send: false, reason: 'IN_FLIGHT', holder };
    const t = this.leases.takeOver(held, contractId, side, recorded, this.clock(), OWNER[this.sender]);
    if (t.ok) return { send: true, lease: t.lease, tookOver: held };
    // Somebody claimed the position between the read and now.
    return { send: false, reason: 'IN_FLIGHT', holder: 'held' in t ? senderOf(t.held.owner) : undefined };
  }

  /** After the broker answered the close (accepted, or refused with a definite answer): in flight until the TTL. */
  markSent(d: CloseDecision): void {
    if (d.send && d.lease !== undefined) this.leases.markSent(d.lease, this.clock());
  }

  /**
   * Main thread at start, before it serves: re-creates, from the journal, the lease of a close an earlier run of the
   * engine sent (answered, or its answer lost in a crash) at `sentMs`, so that no second close of the position goes
   * out over it while it may still work; it lives until the TTL from `sentMs`, as a lease answered then. A live lease
   * of the position wins (nothing changes). True when seeded.
   */
  seed(accountId: number, contractId: string, side: WireSide, size: number, sentMs: number, scope: CloseScope = 'WHOLE'): boolean {
    const c = this.leases.tryClaim(accountId, contractId, side, scope === 'WHOLE' ? WHOLE_POSITION : size, sentMs, OWNER[this.sender]);
    if (!c.ok) return false;
    if (this.leases.markSent(c.lease, sentMs)) return true;
    this.leases.release(c.lease);
    return false;
  }

  /** After a failure that certainly sent nothing: the position may be closed again at once. */
  release(d: CloseDecision): void {
    if (d.send && d.lease !== undefined) this.leases.release(d.lease);
  }

  /**
   * True when `o` is a working untagged market order matching a live close lease of its position (either sender's).
   * Never for a lease past its TTL: a stuck close is cancelled by the sweeps.
   */
  isOurs(o: WorkingOrderView): boolean {
    if (!this.untaggedMarket(o)) return false;
    const l = this.leases.find(o.accountId, o.contractId, this.clock());
    return l !== undefined && this.isCloseOf(l, o);
  }

  /**
   * True when `o` (a working order of the lease's position) can be the close that `lease` records: untagged, market,
   * on its side, and for a partial close no bigger than it. E.g. the stuck close of a `stuck` decision.
   */
  isCloseOf(lease: CloseLeaseView, o: WorkingOrderView): boolean {
    return this.untaggedMarket(o) && o.side === lease.side && (lease.size === WHOLE_POSITION || o.size <= lease.size);
  }

  /** True when a close of the position is being sent or was answered within the TTL (it may have filled since). */
  pending(accountId: number, contractId: string): boolean {
    return this.leases.find(accountId, contractId, this.clock()) !== undefined;
  }

  private untaggedMarket(o: WorkingOrderView): boolean {
    return o.type === MARKET && !this.isOurTag(o.customTag ?? '');
  }
}

function senderOf(owner: number): CloseSender | undefined {
  return owner === OWNER['front-door'] ? 'front-door' : owner === OWNER['risk-manager'] ? 'risk-manager' : undefined;
}
