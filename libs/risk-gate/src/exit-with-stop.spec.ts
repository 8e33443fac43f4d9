// MAX_POSITION of an order against its contract's worst case (review finding: a market exit of a position whose
// protective stop is working was judged as new exposure on top of the published worst case, so a trader holding 3 ES
// with a stop could not get out). An order adds to the account's worst case only what it adds to its contract's,
// max(|net + buys|, |net − sells|) with buys/sells = working + in flight; the position must still never be able to
// grow past the limit if every working and in-flight order fills.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { AccountState, Side, type SideCode } from '@gateway/shared-state';
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
    // Not a reducing order (with the stop it can leave the position short): it holds its full size in flight.
    expect(r.allowed && r.reservation.reducing).toBe(false);
    expect([f.state.reservations.pendingUnits(f.acct), f.state.reservations.pending(f.acct, f.es, Side.SELL)]).toEqual([30, 3]);
    if (r.allowed) gate.release(r.reservation);
    expect(f.state.reservations.pendingUnits(f.acct)).toBe(0);
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

  it('counts the full size when the position record changes while the exit is re-checked', () => {
    const f = fixture();
    f.position(f.es, { netSize: 3, avgPrice: ES_PRICE, workingSell: 3 });
    f.publish({ positionUnits: 30 });
    const gate = new RiskGate(f.state, { clock: () => IN_SESSION_MS });
    // The re-check reads the position record, the account record, then the position record again: a publish between
    // the two position reads (played from the account read) leaves no record consistent with positionUnits.
    const accounts = f.state.accounts;
    const readAccount = accounts.readAccount.bind(accounts);
    let reads = 0;
    accounts.readAccount = (slot, out) => {
      if (++reads === 2) f.position(f.es, { netSize: 3, avgPrice: ES_PRICE, workingSell: 3, workingBuy: 1 });
      return readAccount(slot, out);
    };
    // 30 published + 30 of this order > 50, where the cover would have allowed it.
    expect(reasonOf(gate.check({ accountSlot: f.acct, contractSlot: f.es, side: Side.SELL, size: 3 }))).toBe('MAX_POSITION');
    expect(reads).toBe(2);
    expect(f.state.reservations.pendingUnits(f.acct)).toBe(0);
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

/** The engine around the gate, reduced to what positions and limits need: the broker's book and the in-flight orders. */
class Model {
  readonly f: Fixture = fixture();
  readonly contracts: Contract[];
  readonly inFlight: Reservation[] = [];
  readonly gates: RiskGate[];
  /** Runs at the first gate's clock read: between its snapshot and its claims. */
  private interrupt: (() => void) | undefined;
  /** Runs at the first gate's second in-flight units read of one check: between its claims and its re-check. */
  private recheckInterrupt: (() => void) | undefined;
  private unitReads = 0;
  /** An interrupted check holds claims the model does not list yet (inside its re-check window). */
  private outerClaimed = false;

  constructor(
    books: ReadonlyArray<{ net: number; workingBuy: number; workingSell: number }>,
    readonly maxUnits: number,
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
    reservations.pendingUnits = (slot) => {
      if (this.recheckInterrupt !== undefined && ++this.unitReads === 2) {
        const run = this.recheckInterrupt;
        this.recheckInterrupt = undefined;
        run();
      }
      return pendingUnits(slot);
    };
    this.publish();
  }

  /** The risk-manager's publish: position records, then the account record (positionUnits over working orders). */
  publish(): void {
    let units = 0;
    for (const c of this.contracts) {
      this.f.position(c.slot, { netSize: c.net, workingBuy: c.workingBuy, workingSell: c.workingSell });
      units += c.weight * Math.max(Math.abs(c.net + c.workingBuy), Math.abs(c.net - c.workingSell));
    }
    this.f.publish({ positionUnits: units, maxPositionUnits: this.maxUnits, maxOpenOrders: 1_000_000, maxOrdersPerMinute: 0 });
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

  run(op: Op, depth = 0): void {
    switch (op.kind) {
      case 'order': {
        const c = this.contracts[op.c]!;
        const quiet = this.inFlight.length === 0 && op.interrupt === undefined && !this.outerClaimed;
        const wouldReduce = this.reduces(op.c, op.side, op.size);
        const after = this.worstCase(op);
        if (op.interrupt !== undefined) {
          const inner = op.interrupt;
          this.unitReads = 0;
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
        if (!r.allowed) expect(r.reason).toBe('MAX_POSITION');
        // Nothing in flight: the published worst case is the real one, so the gate is exact, not only safe.
        if (quiet) expect(r.allowed).toBe(wouldReduce || after <= this.maxUnits);
        if (r.allowed) this.inFlight.push(r.reservation);
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
});
