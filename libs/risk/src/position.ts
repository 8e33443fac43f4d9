// Positions and P&L per account, built from fills (GatewayUserTrade events and Trade/search rows).
//
// Units (see money.ts): prices 1e-9, money 1e-4 USD, sizes integer contracts, all safe integers.
//
// Accounting method: average cost. Each contract keeps its signed net size and the exact total cost
// of the open contracts (Σ price × size, an integer in price units × contracts), so the average price
// is derived, never accumulated with rounding. A closing fill of q out of |N| open contracts removes
// the pro-rata share cost × q / |N| (rounded half away from zero to a price unit; the last contract
// out removes whatever is left, so a round trip always realises exactly Σ sells − Σ buys) and realises
//   gross = sign(N) × (fillPrice × q − removedCost) / tickSize × tickValue
// with one rounding to the money unit. This is the broker's `profitAndLoss` per closing half-turn
// (gross of fees, null/0 on opening fills, topstepx-api.md §5.8). For a position built from a single
// entry price the two agree exactly; whether the broker uses average cost or FIFO when a position was
// scaled in at several prices is unconfirmed, and only the per-fill split would differ (the round-trip
// total is the same).
import { tradingDayOf } from '@gateway/session';
import { addSafe, bigToSafe, divRoundHalfAwayBig, priceSizeToMoneyUnits, requireSafeInt } from './money';

export type Side = 'BUY' | 'SELL';

/** Static facts about a contract that P&L needs (from Contract/available; tick facts in §10). */
export interface ContractSpec {
  contractId: string;
  /** Tick size in price units (1e-9), e.g. 0.25 → 250_000_000. */
  tickSizeUnits: number;
  /** Value of one tick for one contract in money units (1e-4 USD), e.g. MNQ $0.50 → 5_000. */
  tickValueMoneyUnits: number;
  /** A micro contract (MNQ, MES, …): weighted 1/10 of a mini where the account type says so. */
  isMicro: boolean;
}

/** One fill (half-turn). `tradeId` is the broker's trade id, the idempotency key. */
export interface Fill {
  contractId: string;
  side: Side;
  /** Contracts filled, > 0. */
  size: number;
  priceUnits: number;
  /** Fees charged for this fill in money units, >= 0. */
  feesUnits: number;
  tsMs: number;
  tradeId: string | number;
  /** The broker voided this trade: it is recorded as seen but changes nothing. */
  voided?: boolean;
}

export interface FillResult {
  /** False when the trade id was already applied (REST rebuild and hub events overlap) or voided. */
  applied: boolean;
  /** Gross realised P&L of this fill (0 for an opening fill). */
  realizedGrossUnits: number;
  /** Contracts of this fill that closed existing exposure. */
  closedSize: number;
  /** Contracts of this fill that opened or added exposure (the flipped part of a reversal). */
  openedSize: number;
  /** Net size of the contract after the fill. */
  netSizeAfter: number;
}

export interface PositionView {
  contractId: string;
  /** Signed net contracts: + long, − short. */
  netSize: number;
  /** Average entry price, cost / |net| rounded half away from zero; 0 when flat. */
  avgPriceUnits: number;
  /**
   * Exact Σ price × size of the open contracts (price units × contracts). A BigInt: price units are
   * ~1e13 for index futures, so a few hundred contracts already pass 2^53.
   */
  costUnits: bigint;
  /** Realised gross P&L on the current trading day. */
  dayRealizedGrossUnits: number;
  /** Fees on the current trading day. */
  dayFeesUnits: number;
}

export interface AccountPnl {
  dayId: number;
  dayRealizedGrossUnits: number;
  dayFeesUnits: number;
  /** dayRealizedGross − dayFees. */
  dayRealizedNetUnits: number;
  /** Open P&L of every position with a mark. */
  unrealizedUnits: number;
  /** dayRealizedNet + unrealized: what the daily loss limit is measured on. */
  dayNetPnlUnits: number;
  /** Contracts with a non-zero position. */
  openContracts: number;
  /** Open positions whose mark was missing (their unrealised P&L is unknown: treat risk as not ready). */
  missingMarks: number;
}

/** A broker's open position in one contract (Position/searchOpen), in book units. */
export interface BrokerPosition {
  contractId: string;
  /** Signed net contracts: + long, − short. */
  netSize: number;
  avgPriceUnits: number;
}

/** A contract whose position in the book is not the broker's (PositionBook.diff). */
export interface PositionDifference {
  contractId: string;
  bookNetSize: number;
  /** 0 when the broker lists no position in the contract. */
  brokerNetSize: number;
  /** 0 when the broker lists no position in the contract. */
  brokerAvgPriceUnits: number;
  /** The net sizes differ (a fill one side has and the other not); false: only the average price does. */
  sizeDiffers: boolean;
}

interface ContractState {
  spec: ContractSpec;
  netSize: number;
  /** Σ price × size, exact at any size (see PositionView.costUnits). */
  costUnits: bigint;
  dayRealizedGrossUnits: number;
  dayFeesUnits: number;
}

/**
 * The positions of one account. Single-writer: in the engine only the risk-manager thread applies
 * fills; readers get copies (views) or the numbers the lead publishes to shared memory.
 */
export class PositionBook {
  private readonly contracts = new Map<string, ContractState>();
  /** trade id → trading day it belonged to, for idempotency across the REST/hub overlap. */
  private readonly seen = new Map<string | number, number>();
  private currentDayId = 0;
  private lifetimeRealizedGross = 0;
  private lifetimeFees = 0;

  constructor(
    readonly accountId: number,
    private readonly specOf: (contractId: string) => ContractSpec | undefined,
  ) {}

  /** The trading day (yyyymmdd) the day totals belong to; 0 before the first fill or day start. */
  get dayId(): number {
    return this.currentDayId;
  }

  get lifetimeRealizedGrossUnits(): number {
    return this.lifetimeRealizedGross;
  }

  get lifetimeFeesUnits(): number {
    return this.lifetimeFees;
  }

  /**
   * Starts a trading day (17:00 CT): day totals go to zero, positions carry over. Trade ids older than
   * the previous day are forgotten (a rebuild only replays the current day). Ignored for a day that is
   * not newer than the current one.
   */
  beginTradingDay(dayId: number): void {
    requireSafeInt(dayId, 'dayId');
    if (dayId <= this.currentDayId) return;
    const previous = this.currentDayId;
    this.currentDayId = dayId;
    for (const c of this.contracts.values()) {
      c.dayRealizedGrossUnits = 0;
      c.dayFeesUnits = 0;
    }
    for (const [id, day] of this.seen) if (day < previous) this.seen.delete(id);
  }

  /** Applies a fill; a repeated trade id is ignored. */
  applyFill(fill: Fill): FillResult {
    validateFill(fill);
    const spec = this.specOf(fill.contractId);
    if (spec === undefined) throw new RangeError(`fill.contractId ${fill.contractId} has no contract spec`);
    const dayId = tradingDayOf(fill.tsMs).id;
    if (this.seen.has(fill.tradeId)) {
      const c = this.contracts.get(fill.contractId);
      return { applied: false, realizedGrossUnits: 0, closedSize: 0, openedSize: 0, netSizeAfter: c?.netSize ?? 0 };
    }
    if (dayId > this.currentDayId) this.beginTradingDay(dayId);
    this.seen.set(fill.tradeId, dayId);
    let c = this.contracts.get(fill.contractId);
    if (c === undefined) {
      c = { spec, netSize: 0, costUnits: 0n, dayRealizedGrossUnits: 0, dayFeesUnits: 0 };
      this.contracts.set(fill.contractId, c);
    }
    if (fill.voided === true) {
      return { applied: false, realizedGrossUnits: 0, closedSize: 0, openedSize: 0, netSizeAfter: c.netSize };
    }

    const dir = fill.side === 'BUY' ? 1 : -1;
    const open = Math.abs(c.netSize);
    let realized = 0;
    let closed = 0;
    if (c.netSize !== 0 && Math.sign(c.netSize) !== dir) {
      closed = Math.min(fill.size, open);
      const removed = closed === open ? c.costUnits : proRata(c.costUnits, closed, open);
      const posDir = Math.sign(c.netSize);
      const proceeds = BigInt(fill.priceUnits) * BigInt(closed);
      realized = priceSizeToMoneyUnits(bigToSafe(BigInt(posDir) * (proceeds - removed), 'realized price × size'), spec.tickSizeUnits, spec.tickValueMoneyUnits);
      c.costUnits -= removed;
      c.netSize -= posDir * closed;
    }
    const opened = fill.size - closed;
    if (opened > 0) {
      c.costUnits += BigInt(fill.priceUnits) * BigInt(opened);
      c.netSize += dir * opened;
    }
    if (c.netSize === 0) c.costUnits = 0n;

    this.lifetimeRealizedGross = addSafe(this.lifetimeRealizedGross, realized, 'lifetimeRealizedGrossUnits');
    this.lifetimeFees = addSafe(this.lifetimeFees, fill.feesUnits, 'lifetimeFeesUnits');
    if (dayId === this.currentDayId) {
      c.dayRealizedGrossUnits = addSafe(c.dayRealizedGrossUnits, realized, 'dayRealizedGrossUnits');
      c.dayFeesUnits = addSafe(c.dayFeesUnits, fill.feesUnits, 'dayFeesUnits');
    }
    return { applied: true, realizedGrossUnits: realized, closedSize: closed, openedSize: opened, netSizeAfter: c.netSize };
  }

  /**
   * Sets a position from the broker's view (Position/searchOpen: size, type, averagePrice) when
   * reconciling, e.g. a position carried from before the fills we replayed. Day totals are untouched.
   */
  setPosition(contractId: string, netSize: number, avgPriceUnits: number): void {
    requireSafeInt(netSize, 'netSize');
    requireSafeInt(avgPriceUnits, 'avgPriceUnits');
    const spec = this.specOf(contractId);
    if (spec === undefined) throw new RangeError(`contractId ${contractId} has no contract spec`);
    let c = this.contracts.get(contractId);
    if (c === undefined) {
      c = { spec, netSize: 0, costUnits: 0n, dayRealizedGrossUnits: 0, dayFeesUnits: 0 };
      this.contracts.set(contractId, c);
    }
    c.costUnits = BigInt(avgPriceUnits) * BigInt(Math.abs(netSize));
    c.netSize = netSize;
  }

  /**
   * The one comparison of the book with the broker's open positions, for the drift check (which looks at sizes
   * only: a lost fill moves the size) and the reconcile (which takes the broker's size and average, the truth
   * for open P&L too). Every contract whose net size or average price differs: the broker's contracts in their
   * order, then the ones the book holds open and the broker does not list (broker size 0). A contract the book
   * has no entry for differs in average even at size 0, so the reconcile records it. A contract listed twice
   * (the Gateway lists one row per contract) counts once: sizes added, the last row's average.
   */
  diff(broker: readonly BrokerPosition[]): PositionDifference[] {
    const theirs = new Map<string, { net: number; avg: number }>();
    for (const p of broker) {
      requireSafeInt(p.netSize, 'netSize');
      requireSafeInt(p.avgPriceUnits, 'avgPriceUnits');
      const prev = theirs.get(p.contractId);
      theirs.set(p.contractId, { net: prev === undefined ? p.netSize : addSafe(prev.net, p.netSize, 'netSize'), avg: p.avgPriceUnits });
    }
    const out: PositionDifference[] = [];
    for (const [contractId, b] of theirs) {
      const c = this.contracts.get(contractId);
      const bookNetSize = c?.netSize ?? 0;
      const sizeDiffers = bookNetSize !== b.net;
      if (sizeDiffers || c === undefined || view(contractId, c).avgPriceUnits !== b.avg) {
        out.push({ contractId, bookNetSize, brokerNetSize: b.net, brokerAvgPriceUnits: b.avg, sizeDiffers });
      }
    }
    for (const [contractId, c] of this.contracts) {
      if (c.netSize !== 0 && !theirs.has(contractId)) out.push({ contractId, bookNetSize: c.netSize, brokerNetSize: 0, brokerAvgPriceUnits: 0, sizeDiffers: true });
    }
    return out;
  }

  netSize(contractId: string): number {
    return this.contracts.get(contractId)?.netSize ?? 0;
  }

  position(contractId: string): PositionView | undefined {
    const c = this.contracts.get(contractId);
    return c === undefined ? undefined : view(contractId, c);
  }

  positions(): PositionView[] {
    const out: PositionView[] = [];
    for (const [id, c] of this.contracts) out.push(view(id, c));
    return out;
  }

  /** Contracts with a non-zero position (what a flatten must close). */
  openContractIds(): string[] {
    const out: string[] = [];
    for (const [id, c] of this.contracts) if (c.netSize !== 0) out.push(id);
    return out;
  }

  /** Open P&L of one contract at a mark: sign(N) × (mark × |N| − cost) in money, one rounding. */
  unrealizedUnits(contractId: string, markPriceUnits: number): number {
    const c = this.contracts.get(contractId);
    if (c === undefined || c.netSize === 0) return 0;
    requireSafeInt(markPriceUnits, 'markPriceUnits');
    const value = BigInt(markPriceUnits) * BigInt(Math.abs(c.netSize));
    const diff = bigToSafe(BigInt(Math.sign(c.netSize)) * (value - c.costUnits), 'unrealized price × size');
    return priceSizeToMoneyUnits(diff, c.spec.tickSizeUnits, c.spec.tickValueMoneyUnits);
  }

  /**
   * Account totals for the current trading day. `markOf` returns the mark in price units, or NaN /
   * undefined when there is none (such positions are counted in `missingMarks`, not valued).
   */
  totals(markOf: (contractId: string) => number | undefined): AccountPnl {
    let gross = 0;
    let fees = 0;
    let unrealized = 0;
    let open = 0;
    let missing = 0;
    for (const [id, c] of this.contracts) {
      gross = addSafe(gross, c.dayRealizedGrossUnits, 'dayRealizedGrossUnits');
      fees = addSafe(fees, c.dayFeesUnits, 'dayFeesUnits');
      if (c.netSize === 0) continue;
      open++;
      const mark = markOf(id);
      if (mark === undefined || Number.isNaN(mark)) {
        missing++;
        continue;
      }
      unrealized = addSafe(unrealized, this.unrealizedUnits(id, mark), 'unrealizedUnits');
    }
    const realizedNet = addSafe(gross, -fees, 'dayRealizedNetUnits');
    return {
      dayId: this.currentDayId,
      dayRealizedGrossUnits: gross,
      dayFeesUnits: fees,
      dayRealizedNetUnits: realizedNet,
      unrealizedUnits: unrealized,
      dayNetPnlUnits: addSafe(realizedNet, unrealized, 'dayNetPnlUnits'),
      openContracts: open,
      missingMarks: missing,
    };
  }
}

function proRata(cost: bigint, part: number, whole: number): bigint {
  return divRoundHalfAwayBig(cost * BigInt(part), BigInt(whole));
}

function view(contractId: string, c: ContractState): PositionView {
  const open = Math.abs(c.netSize);
  return {
    contractId,
    netSize: c.netSize,
    avgPriceUnits: open === 0 ? 0 : bigToSafe(proRata(c.costUnits, 1, open), 'avgPriceUnits'),
    costUnits: c.costUnits,
    dayRealizedGrossUnits: c.dayRealizedGrossUnits,
    dayFeesUnits: c.dayFeesUnits,
  };
}

function validateFill(fill: Fill): void {
  if (fill.side !== 'BUY' && fill.side !== 'SELL') throw new RangeError(`fill.side must be BUY or SELL, got ${String(fill.side)}`);
  requireSafeInt(fill.size, 'fill.size');
  if (fill.size <= 0) throw new RangeError(`fill.size must be > 0, got ${fill.size}`);
  requireSafeInt(fill.priceUnits, 'fill.priceUnits');
  requireSafeInt(fill.feesUnits, 'fill.feesUnits');
  if (fill.feesUnits < 0) throw new RangeError(`fill.feesUnits must be >= 0, got ${fill.feesUnits}`);
  requireSafeInt(fill.tsMs, 'fill.tsMs');
  if (typeof fill.tradeId !== 'string' && !Number.isSafeInteger(fill.tradeId)) {
    throw new RangeError(`fill.tradeId must be a string or safe integer, got ${String(fill.tradeId)}`);
  }
}
