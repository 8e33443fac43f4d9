// MAX_POSITION of an order against its contract's worst case (review finding: a market exit of a position whose
// protective stop is working was judged as new exposure on top of the published worst case, so a trader holding 3 ES
// with a stop could not get out). An order adds to the account's worst case only what it adds to its contract's,
// max(|net + buys|, |net − sells|) with buys/sells = working + in flight; the position must still never be able to
// grow past the limit if every working and in-flight order fills.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { AccountState, Side, type SideCode } from '@gateway/shared-state';
import { stateReasonCode } from '@gateway/risk';
import { RiskGate, type GateResult, type Reservation } from './index';
import { fixture, IN_SESSION_MS, type Fixture } from '../test/support';

const reasonOf = (r: GateResult): string => (r.allowed ? 'ALLOWED' : r.reason);
/** 6000.00 in price units. */
const ES_PRICE = 6_000_000_000_000;

describe('RiskGate: an exit with the protective stop working', () => {
  it('allows a market SELL 3 of a long 3 ES with a sell stop 3 working (worst case after: 3 lots ≤ 5)', () => {
    const f = fixture();
    f.position(f.es, { netSize: 3, avgPrice: ES_PRICE, workingSell: 3 });
    // As AccountRisk.publish computes it: 10 × max(|3 + 0|, |3 − 3|) = 30.
    f.publish({ state: AccountState.ACTIVE, positionUnits: 30 });
    const gate = new RiskGate(f.state, { clock: () => IN_SESSION_MS });
    const r = gate.check({ accountSlot: f.acct, contractSlot: f.es, side: Side.SELL, size: 3 });
    expect(reasonOf(r)).toBe('ALLOWED');
    // An exit (nothing added to the worst case, within |net| in flight): claimed like a reducing order, with no limit,
    // though with the stop it can leave the position short. It holds its full size in flight.
    expect(r.allowed && r.reservation.reducing).toBe(true);
    expect([f.state.reservations.pendingUnits(f.acct), f.state.reservations.pending(f.acct, f.es, Side.SELL)]).toEqual([30, 3]);
    if (r.allowed) gate.release(r.reservation);
    expect(f.state.reservations.pendingUnits(f.acct)).toBe(0);
  });

  it('on a HALTED account takes only a strict exit: with the stop working a SELL 3 could leave the position short (the risk-manager is flattening it)', () => {
    const f = fixture();
    f.position(f.es, { netSize: 3, avgPrice: ES_PRICE, workingSell: 3 });
    f.publish({ state: AccountState.HALTED, reason: stateReasonCode('DAILY_LOSS_LIMIT'), positionUnits: 30 });
    const gate = new RiskGate(f.state, { clock: () => IN_SESSION_MS });
    expect(reasonOf(gate.check({ accountSlot: f.acct, contractSlot: f.es, side: Side.SELL, size: 3 }))).toBe('DAILY_LOSS_LIMIT');
    // Without the stop it is an exit that can only reduce: it passes.
    f.position(f.es, { netSize: 3, avgPrice: ES_PRICE });
    expect(reasonOf(gate.check({ accountSlot: f.acct, contractSlot: f.es, side: Side.SELL, size: 3 }))).toBe('ALLOWED');
  });

  it('allows the mirror exit: BUY 3 of a short 3 ES with a buy stop 3 working', () => {
    const f = fixture();
    f.position(f.es, { netSize: -3, avgPrice: ES_PRICE, workingBuy: 3 });
    f.publish({ positionUnits: 30 });
    const gate = new RiskGate(f.state, { clock: () => IN_SESSION_MS });
    expect(reasonOf(gate.check({ accountSlot: f.acct, contractSlot: f.es, side: Side.BUY, size: 3 }))).toBe('ALLOWED');
  });

  it('counts the part of an order beyond the cover: SELL 5 → short 5 at worst (allowed), SELL 6 → short 6 (MAX_POSITION)', () => {
    const f = fixture();
    f.position(f.es, { netSize: 3, avgPrice: ES_PRICE, workingSell: 3 });
    f.publish({ positionUnits: 30 });
    const gate = new RiskGate(f.state, { clock: () => IN_SESSION_MS });
    expect(reasonOf(gate.check({ accountSlot: f.acct, contractSlot: f.es, side: Side.SELL, size: 6 }))).toBe('MAX_POSITION');
    expect(reasonOf(gate.check({ accountSlot: f.acct, contractSlot: f.es, side: Side.SELL, size: 5 }))).toBe('ALLOWED');
  });

  it('gives no cover when working sells already make the short side the worst case (long 3, sells 8 working)', () => {
    const f = fixture();
    // Worst case short 5 = 50 units = the limit: a sell of 1, though smaller than the long position, adds a lot.
    f.position(f.es, { netSize: 3, avgPrice: ES_PRICE, workingSell: 8 });
    f.publish({ positionUnits: 50 });
    const gate = new RiskGate(f.state, { clock: () => IN_SESSION_MS });
    expect(reasonOf(gate.check({ accountSlot: f.acct, contractSlot: f.es, side: Side.SELL, size: 1 }))).toBe('MAX_POSITION');
  });

  it('counts an exit in flight: a second SELL 3 while the first is on the wire would leave short 6 (MAX_POSITION)', () => {
    const f = fixture();
    f.position(f.es, { netSize: 3, avgPrice: ES_PRICE, workingSell: 3 });
    f.publish({ positionUnits: 30 });
    const gate = new RiskGate(f.state, { clock: () => IN_SESSION_MS });
    expect(reasonOf(gate.check({ accountSlot: f.acct, contractSlot: f.es, side: Side.SELL, size: 3 }))).toBe('ALLOWED');
    expect(reasonOf(gate.check({ accountSlot: f.acct, contractSlot: f.es, side: Side.SELL, size: 3 }))).toBe('MAX_POSITION');
    expect(f.state.reservations.pending(f.acct, f.es, Side.SELL)).toBe(3);
  });

  it('counts the first exit once it is working at the broker (handed over between the snapshot and the claim)', () => {
    const f = fixture();
    f.position(f.es, { netSize: 3, avgPrice: ES_PRICE, workingSell: 3 });
    f.publish({ positionUnits: 30 });
    const main = new RiskGate(f.state, { clock: () => IN_SESSION_MS });
    const first = main.check({ accountSlot: f.acct, contractSlot: f.es, side: Side.SELL, size: 3 });
    if (!first.allowed) throw new Error('first exit denied');
    let handedOver = false;
    const other = new RiskGate(f.state, {
      clock: () => {
        if (!handedOver) {
          handedOver = true;
          // The risk-manager publishes the first exit as working (worst case max(3, |3 − 6|) = 3), then it is released.
          f.position(f.es, { netSize: 3, avgPrice: ES_PRICE, workingSell: 6 });
          f.publish({ positionUnits: 30 });
          main.release(first.reservation);
        }
        return IN_SESSION_MS;
      },
    });
    // On the snapshot (stop only) the second exit looked covered; with the first working it would leave short 6.
    expect(reasonOf(other.check({ accountSlot: f.acct, contractSlot: f.es, side: Side.SELL, size: 3 }))).toBe('MAX_POSITION');
    expect([f.state.reservations.pendingUnits(f.acct), f.state.reservations.pending(f.acct, f.es, Side.SELL)]).toEqual([0, 0]);
  });

  it('judges an exit again on the position record read after its claim (a second stop placed from the TopstepX UI)', () => {
    const f = fixture();
    f.position(f.es, { netSize: 3, avgPrice: ES_PRICE, workingSell: 3 });
    f.publish({ state: AccountState.REDUCING, reason: stateReasonCode('DAILY_LOSS_LIMIT'), positionUnits: 30 });
    let placed = false;
    const gate = new RiskGate(f.state, {
      clock: () => {
        if (!placed) {
          placed = true;
          // Published between the snapshot and the claim: with both stops filled the exit would leave short 6.
          f.position(f.es, { netSize: 3, avgPrice: ES_PRICE, workingSell: 6 });
        }
        return IN_SESSION_MS;
      },
    });
    expect(reasonOf(gate.check({ accountSlot: f.acct, contractSlot: f.es, side: Side.SELL, size: 3 }))).toBe('REDUCE_ONLY');
    expect([f.state.reservations.pendingUnits(f.acct), f.state.reservations.pending(f.acct, f.es, Side.SELL)]).toEqual([0, 0]);
  });

  it('counts the full size when the position record changes while a partly covered order is re-checked', () => {
    const f = fixture();
    f.position(f.es, { netSize: 3, avgPrice: ES_PRICE, workingSell: 3 });
    f.publish({ positionUnits: 30 });
    const gate = new RiskGate(f.state, { clock: () => IN_SESSION_MS });
    // SELL 5 (short 5 at worst: 2 lots more than the long 3 counted, so not an exit) fits: 30 + 20 ≤ 50. The re-check
    // reads the position record, the account record, then the position record again: a publish between the two
    // position reads (played from the account read) leaves no record consistent with positionUnits.
    const accounts = f.state.accounts;
    const readAccount = accounts.readAccount.bind(accounts);
    let reads = 0;
    accounts.readAccount = (slot, out) => {
      if (++reads === 2) f.position(f.es, { netSize: 3, avgPrice: ES_PRICE, workingSell: 3, workingBuy: 1 });
      return readAccount(slot, out);
    };
    // 30 published + 50 of this order > 50, where the cover would have allowed it.
    expect(reasonOf(gate.check({ accountSlot: f.acct, contractSlot: f.es, side: Side.SELL, size: 5 }))).toBe('MAX_POSITION');
    expect(reads).toBe(2);
    expect(f.state.reservations.pendingUnits(f.acct)).toBe(0);
  });
});

// Review findings: the exit above was not "reducing" (with the stop it could leave the position short), so wherever
// the gate let only reducing orders through, the trader could not get out: an account REDUCING close to its daily loss
// limit, an account record the risk-manager stopped refreshing ("a reducing order still passes, so a trader can
// always get out"), and after the entry cut-off. An order on the opposite side of net, with the exits in flight
// within |net|, that adds nothing to its contract's worst case is now an exit for those checks, claimed like a
// reducing order.
describe('RiskGate: getting out of a position whose stop is working', () => {
  it('lets a market SELL 3 exit a long 3 ES with its sell stop 3 working while the account is REDUCING near the DLL', () => {
    const f = fixture();
    f.position(f.es, { netSize: 3, avgPrice: ES_PRICE, workingSell: 3 });
    f.publish({ state: AccountState.REDUCING, reason: stateReasonCode('DAILY_LOSS_LIMIT'), positionUnits: 30 });
    const gate = new RiskGate(f.state, { clock: () => IN_SESSION_MS });
    expect(reasonOf(gate.check({ accountSlot: f.acct, contractSlot: f.es, side: Side.SELL, size: 3 }))).toBe('ALLOWED');
    // A second one while the first is in flight would take the exits past the long 3: an entry, refused.
    expect(reasonOf(gate.check({ accountSlot: f.acct, contractSlot: f.es, side: Side.SELL, size: 1 }))).toBe('REDUCE_ONLY');
  });

  it('lets the same exit through an account record the risk-manager stopped refreshing', () => {
    const f = fixture();
    f.position(f.es, { netSize: 3, avgPrice: ES_PRICE, workingSell: 3 });
    f.publish({ state: AccountState.ACTIVE, positionUnits: 30, updatedMs: IN_SESSION_MS - 60_000 });
    const gate = new RiskGate(f.state, { clock: () => IN_SESSION_MS });
    expect(reasonOf(gate.check({ accountSlot: f.acct, contractSlot: f.es, side: Side.SELL, size: 3 }))).toBe('ALLOWED');
    // An order beyond the cover is new exposure: refused on the stale record.
    expect(reasonOf(gate.check({ accountSlot: f.acct, contractSlot: f.es, side: Side.BUY, size: 1 }))).toBe('RISK_NOT_READY');
  });

  it('lets the same exit through after the entry cut-off (15:15 CT)', () => {
    const f = fixture();
    const now = Date.UTC(2026, 10, 25, 21, 15);
    f.position(f.es, { netSize: 3, avgPrice: ES_PRICE, workingSell: 3 });
    f.publish({ positionUnits: 30, updatedMs: now });
    const gate = new RiskGate(f.state, { clock: () => now });
    expect(reasonOf(gate.check({ accountSlot: f.acct, contractSlot: f.es, side: Side.SELL, size: 3 }))).toBe('ALLOWED');
  });

  it('keeps reduceOnly strict: with the stop the exit could leave the position short, so it is REDUCE_ONLY', () => {
    const f = fixture();
    f.position(f.es, { netSize: 3, avgPrice: ES_PRICE, workingSell: 3 });
    f.publish({ positionUnits: 30 });
    const gate = new RiskGate(f.state, { clock: () => IN_SESSION_MS });
    expect(reasonOf(gate.check({ accountSlot: f.acct, contractSlot: f.es, side: Side.SELL, size: 3, reduceOnly: true }))).toBe('REDUCE_ONLY');
    f.position(f.es, { netSize: 3, avgPrice: ES_PRICE });
    expect(reasonOf(gate.check({ accountSlot: f.acct, contractSlot: f.es, side: Side.SELL, size: 3, reduceOnly: true }))).toBe('ALLOWED');
  });
});

// ---- property: whatever the gate allows, the account's worst case stays within the limit ----

interface Contract {
  slot: number;
  weight: number;
  net: number;
  /** Working at the broker, as the risk-manager publishes them. */
  workingBuy: number;
  workingSell: number;
}

type Op =
  | { kind: 'order'; c: number; side: SideCode; size: number; interrupt?: Op; at?: 'snapshot' | 'recheck' }
  | { kind: 'handOver'; i: number }
  | { kind: 'cancelInFlight'; i: number }
  | { kind: 'fill'; c: number; side: SideCode; n: number }
  | { kind: 'cancelWorking'; c: number; side: SideCode; n: number };

/**
 * The account's record as the gate finds it: ACTIVE (every limit applies), REDUCING near a loss limit (only exits
 * pass), or ACTIVE but stale (the risk-manager stopped republishing: only exits pass).
 */
type Mode = 'ACTIVE' | 'REDUCING' | 'STALE';

/** The engine around the gate, reduced to what positions and limits need: the broker's book and the in-flight orders. */
class Model {
  readonly f: Fixture = fixture();
  readonly contracts: Contract[];
  readonly inFlight: Reservation[] = [];
  readonly gates: RiskGate[];
  /** Runs at the first gate's clock read: between its snapshot and its claims. */
  private interrupt: (() => void) | undefined;
  /**
   * Runs between the first gate's claims and its re-check: at its second in-flight units read of one check (an
   * entry), or at its third in-flight side read (an exit, which reads no units after its claim).
   */
  private recheckInterrupt: (() => void) | undefined;
  private unitReads = 0;
  private sideReads = 0;
  /** An interrupted check holds claims the model does not list yet (inside its re-check window). */
  private outerClaimed = false;

  constructor(
    books: ReadonlyArray<{ net: number; workingBuy: number; workingSell: number }>,
    readonly maxUnits: number,
    readonly mode: Mode = 'ACTIVE',
  ) {
    const f = this.f;
    this.contracts = [
      { slot: f.es, weight: 10, ...books[0]! },
      { slot: f.mnq, weight: 1, ...books[1]! },
    ];
    // Two gate instances: the second judges an order placed inside the first one's check.
    const clock = (): number => {
      const run = this.interrupt;
      this.interrupt = undefined;
      run?.();
      return IN_SESSION_MS;
    };
    this.gates = [new RiskGate(f.state, { clock }), new RiskGate(f.state, { clock: () => IN_SESSION_MS })];
    const reservations = f.state.reservations;
    const pendingUnits = reservations.pendingUnits.bind(reservations);
    const pending = reservations.pending.bind(reservations);
    reservations.pendingUnits = (slot) => {
      if (this.recheckInterrupt !== undefined && ++this.unitReads === 2) this.runRecheckInterrupt();
      return pendingUnits(slot);
    };
    reservations.pending = (slot, contract, s) => {
      if (this.recheckInterrupt !== undefined && ++this.sideReads === 3) this.runRecheckInterrupt();
      return pending(slot, contract, s);
    };
    this.publish();
  }

  private runRecheckInterrupt(): void {
    const run = this.recheckInterrupt!;
    this.recheckInterrupt = undefined;
    run();
  }

  /** The risk-manager's publish: position records, then the account record (positionUnits over working orders). */
  publish(): void {
    let units = 0;
    for (const c of this.contracts) {
      this.f.position(c.slot, { netSize: c.net, workingBuy: c.workingBuy, workingSell: c.workingSell });
      units += c.weight * Math.max(Math.abs(c.net + c.workingBuy), Math.abs(c.net - c.workingSell));
    }
    this.f.publish({
      positionUnits: units,
      maxPositionUnits: this.maxUnits,
      maxOpenOrders: 1_000_000,
      maxOrdersPerMinute: 0,
      state: this.mode === 'REDUCING' ? AccountState.REDUCING : AccountState.ACTIVE,
      reason: this.mode === 'REDUCING' ? stateReasonCode('DAILY_LOSS_LIMIT') : 0,
      // A record the risk-manager stopped refreshing a minute ago (the model still publishes the book: the gate
      // judges exits on the last published position).
      updatedMs: this.mode === 'STALE' ? IN_SESSION_MS - 60_000 : IN_SESSION_MS,
    });
  }

  /** The real worst case: every working and in-flight order of one side fills, per contract, summed. */
  worstCase(extra?: { c: number; side: SideCode; size: number }): number {
    let units = 0;
    this.contracts.forEach((c, k) => {
      let buys = c.workingBuy;
      let sells = c.workingSell;
      for (const r of this.inFlight) {
        if (r.contractSlot !== c.slot) continue;
        if (r.side === Side.BUY) buys += r.size;
        else sells += r.size;
      }
      if (extra?.c === k) {
        if (extra.side === Side.BUY) buys += extra.size;
        else sells += extra.size;
      }
      units += c.weight * Math.max(Math.abs(c.net + buys), Math.abs(c.net - sells));
    });
    return units;
  }

  /** Would the order only reduce its position (working + in-flight same-side orders included)? */
  reduces(k: number, side: SideCode, size: number): boolean {
    const c = this.contracts[k]!;
    let same = side === Side.BUY ? c.workingBuy : c.workingSell;
    for (const r of this.inFlight) if (r.contractSlot === c.slot && r.side === side) same += r.size;
    return side === Side.SELL ? c.net > 0 && same + size <= c.net : c.net < 0 && same + size <= -c.net;
  }

  /**
   * Is the order an exit: opposite side of net, with the same-side orders in flight within |net|, adding nothing to
   * its contract's worst case (working orders, a stop say, may still make the worst case the other side)?
   */
  exits(k: number, side: SideCode, size: number): boolean {
    const c = this.contracts[k]!;
    let inFlight = 0;
    for (const r of this.inFlight) if (r.contractSlot === c.slot && r.side === side) inFlight += r.size;
    const within = side === Side.SELL ? c.net > 0 && inFlight + size <= c.net : c.net < 0 && inFlight + size <= -c.net;
    // The other contracts are the same on both sides of the comparison.
    return within && this.worstCase({ c: k, side, size }) <= this.worstCase();
  }

  run(op: Op, depth = 0): void {
    switch (op.kind) {
      case 'order': {
        const c = this.contracts[op.c]!;
        const quiet = this.inFlight.length === 0 && op.interrupt === undefined && !this.outerClaimed;
        const wouldReduce = this.reduces(op.c, op.side, op.size);
        const exits = this.exits(op.c, op.side, op.size);
        const before = this.worstCase();
        const after = this.worstCase(op);
        if (op.interrupt !== undefined) {
          const inner = op.interrupt;
          this.unitReads = 0;
          this.sideReads = 0;
          if (op.at === 'recheck') {
            this.recheckInterrupt = () => {
              this.outerClaimed = true;
              this.run(inner, depth + 1);
              this.outerClaimed = false;
            };
          } else this.interrupt = () => this.run(inner, depth + 1);
        }
        const r = this.gates[depth]!.check({ accountSlot: this.f.acct, contractSlot: c.slot, side: op.side, size: op.size });
        this.interrupt = undefined;
        this.recheckInterrupt = undefined;
        if (!r.allowed) expect(r.reason).toBe(DENIAL[this.mode]);
        // Nothing in flight: the published worst case is the real one, so the gate is exact, not only safe.
        if (quiet) expect(r.allowed).toBe(this.mode === 'ACTIVE' ? exits || wouldReduce || after <= this.maxUnits : exits);
        // Where only exits pass, no order the gate lets through (with whatever its check was interrupted by) adds to
        // the account's worst case: two exits together never pass if they could.
        if (r.allowed) this.inFlight.push(r.reservation);
        if (this.mode !== 'ACTIVE' && depth === 0) expect(this.worstCase()).toBeLessThanOrEqual(before);
        break;
      }
      case 'handOver': {
        if (this.inFlight.length === 0) return;
        const [r] = this.inFlight.splice(op.i % this.inFlight.length, 1);
        const c = this.contracts.find((x) => x.slot === r!.contractSlot)!;
        if (r!.side === Side.BUY) c.workingBuy += r!.size;
        else c.workingSell += r!.size;
        this.publish();
        this.gates[1]!.release(r!);
        break;
      }
      case 'cancelInFlight': {
        if (this.inFlight.length === 0) return;
        const [r] = this.inFlight.splice(op.i % this.inFlight.length, 1);
        this.gates[1]!.release(r!);
        break;
      }
      case 'fill':
      case 'cancelWorking': {
        const c = this.contracts[op.c]!;
        const n = Math.min(op.n, op.side === Side.BUY ? c.workingBuy : c.workingSell);
        if (n === 0) return;
        if (op.side === Side.BUY) c.workingBuy -= n;
        else c.workingSell -= n;
        if (op.kind === 'fill') c.net += op.side === Side.BUY ? n : -n;
        this.publish();
        break;
      }
    }
    expect(this.worstCase()).toBeLessThanOrEqual(this.maxUnits);
  }
}

const DENIAL: Record<Mode, string> = { ACTIVE: 'MAX_POSITION', REDUCING: 'REDUCE_ONLY', STALE: 'RISK_NOT_READY' };
const side = fc.constantFrom<SideCode>(Side.BUY, Side.SELL);
const book = fc.record({ net: fc.integer({ min: -6, max: 6 }), workingBuy: fc.integer({ min: 0, max: 6 }), workingSell: fc.integer({ min: 0, max: 6 }) });
const plainOp: fc.Arbitrary<Op> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('order' as const), c: fc.integer({ min: 0, max: 1 }), side, size: fc.integer({ min: 1, max: 9 }) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('handOver' as const), i: fc.nat(7) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('cancelInFlight' as const), i: fc.nat(7) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constantFrom('fill' as const, 'cancelWorking' as const), c: fc.integer({ min: 0, max: 1 }), side, n: fc.integer({ min: 1, max: 6 }) }) },
);
/**
 * An order whose check is interrupted by another operation (another order's whole check, a hand-over, a fill):
 * between its snapshot and its claims, or between its claims and its re-check (the windows a thread can be preempted in).
 */
const interruptedOrder: fc.Arbitrary<Op> = fc.record({
  kind: fc.constant('order' as const),
  c: fc.integer({ min: 0, max: 1 }),
  side,
  size: fc.integer({ min: 1, max: 9 }),
  interrupt: plainOp,
  at: fc.constantFrom('snapshot' as const, 'recheck' as const),
});

describe('RiskGate MAX_POSITION: property', () => {
  it('never lets the worst case (every working and in-flight order filled) exceed the limit, and is exact with nothing in flight', () => {
    fc.assert(
      fc.property(fc.tuple(book, book), fc.nat(80), fc.array(fc.oneof({ weight: 3, arbitrary: plainOp }, { weight: 1, arbitrary: interruptedOrder }), { maxLength: 12 }), ([es, mnq], headroom, ops) => {
        const start = 10 * Math.max(Math.abs(es.net + es.workingBuy), Math.abs(es.net - es.workingSell)) + Math.max(Math.abs(mnq.net + mnq.workingBuy), Math.abs(mnq.net - mnq.workingSell));
        const m = new Model([es, mnq], start + headroom);
        for (const op of ops) m.run(op);
      }),
      { numRuns: 400, seed: 20261125 },
    );
  });

  it('lets only exits through a REDUCING or stale account record, and together they never add to the worst case', () => {
    fc.assert(
      fc.property(
        fc.constantFrom<Mode>('REDUCING', 'STALE'),
        fc.tuple(book, book),
        fc.nat(80),
        fc.array(fc.oneof({ weight: 3, arbitrary: plainOp }, { weight: 2, arbitrary: interruptedOrder }), { maxLength: 12 }),
        (mode, [es, mnq], headroom, ops) => {
          const start = 10 * Math.max(Math.abs(es.net + es.workingBuy), Math.abs(es.net - es.workingSell)) + Math.max(Math.abs(mnq.net + mnq.workingBuy), Math.abs(mnq.net - mnq.workingSell));
          const m = new Model([es, mnq], start + headroom, mode);
          for (const op of ops) {
            const before = m.worstCase();
            m.run(op);
            // Hand-overs, fills and cancels never raise it either: the worst case only falls.
            expect(m.worstCase()).toBeLessThanOrEqual(before);
          }
        },
      ),
      { numRuns: 400, seed: 20261126 },
    );
  });
});
