// The price path: one seeded random walk on the tick grid per contract (or a CSV replay), the trades
// and sparse quotes it produces, and the bars built from those same trades (so History/retrieveBars
// agrees with the feed). Runs on the simulator's event loop; a timer tick batches its trades.
import { formatPrice, priceUnits } from './fixed';
import type { ContractRuntime } from './options';
import { createRng, hashString } from './rng';

export interface Bar {
  /** bucket start, epoch ms */
  t: number;
  o: number;
  h: number;
  l: number;
  c: number;
  v: number;
}

/** Quote fields tracked for sparse updates (price units, except volume). */
interface QuoteState {
  lastPrice: number;
  bestBid: number;
  bestAsk: number;
  open: number;
  high: number;
  low: number;
  volume: number;
}

export interface ContractMarket {
  contract: ContractRuntime;
  bid: number;
  ask: number;
  last: number;
  /** The session reference for change / changePercent. */
  prevClose: number;
  open: number;
  high: number;
  low: number;
  volume: number;
  lastTradeAt: number;
  rng: () => number;
  /** Trade payload JSON fragments waiting for the next flush. */
  pendingTrades: string[];
  sent: QuoteState | null;
  /** Minute bars, ascending: seeded history then live. */
  minutes: Bar[];
  /** Ring of live 1-second bars. */
  secT: Float64Array;
  secO: Float64Array;
  secH: Float64Array;
  secL: Float64Array;
  secC: Float64Array;
  secV: Float64Array;
  /** Generator carry: fractional trades owed to the next tick. */
  owed: number;
}

export interface ReplayTrade {
  at: number;
  contractId: string;
  price: number;
  volume: number;
  side: 0 | 1;
}

export type TradeListener = (m: ContractMarket, price: number, volume: number, aggressor: 0 | 1, at: number) => void;
export type FlushListener = (m: ContractMarket, trades: string[], quote: string | null, fullQuote: string) => void;

const MINUTE = 60_000;

export interface MarketConfig {
  seed: number;
  clock: () => number;
  tradesPerSecond: number;
  tickIntervalMs: number;
  moveProbability: number;
  historyDays: number;
  secondBarWindow: number;
  replay: ReplayTrade[] | null;
  replaySpeed: number;
}

export class Market {
  readonly byId = new Map<string, ContractMarket>();
  onTrade: TradeListener = () => undefined;
  onFlush: FlushListener = () => undefined;
  private timer: NodeJS.Timeout | null = null;
  private lastTickAt = 0;
  private replayIdx = 0;
  private replayStart = 0;
  private readonly startedAt: number;

  constructor(
    contracts: ContractRuntime[],
    private readonly cfg: MarketConfig,
  ) {
    this.startedAt = cfg.clock();
    for (const c of contracts) this.byId.set(c.id, this.createState(c));
  }

  private createState(c: ContractRuntime): ContractMarket {
    const rng = createRng(this.cfg.seed ^ hashString(c.id));
    const start = Math.round(priceUnits(c.spec.startPrice) / c.tick) * c.tick;
    const w = Math.max(60, this.cfg.secondBarWindow);
    const m: ContractMarket = {
      contract: c,
      bid: start,
      ask: start + c.tick,
      last: start,
      prevClose: start,
      open: start,
      high: start,
      low: start,
      volume: 0,
      lastTradeAt: 0,
      rng,
      pendingTrades: [],
      sent: null,
      minutes: [],
      secT: new Float64Array(w).fill(-1),
      secO: new Float64Array(w),
      secH: new Float64Array(w),
      secL: new Float64Array(w),
      secC: new Float64Array(w),
      secV: new Float64Array(w),
      owed: 0,
    };
    m.minutes = this.seedHistory(m, start);
    if (m.minutes.length > 0) m.prevClose = m.minutes[Math.max(0, m.minutes.length - 1440)]!.o;
    // Subscribers get a full snapshot on subscribe; every flush after that is a diff against this.
    m.sent = { lastPrice: m.last, bestBid: m.bid, bestAsk: m.ask, open: m.open, high: m.high, low: m.low, volume: m.volume };
    return m;
  }

  /** Minute bars before the start, generated backwards from the start price so they join the live path. */
  private seedHistory(m: ContractMarket, start: number): Bar[] {
    // Expired contracts get no history: nothing trades them.
    const n = m.contract.active ? Math.floor(this.cfg.historyDays * 1440) : 0;
    const rng = createRng((this.cfg.seed * 31) ^ hashString('history:' + m.contract.id));
    const tick = m.contract.tick;
    const bars: Bar[] = new Array(n);
    const firstMinute = Math.floor(this.startedAt / MINUTE) * MINUTE;
    let close = start;
    for (let i = n - 1; i >= 0; i--) {
      let p = close;
      let hi = p;
      let lo = p;
      for (let k = 0; k < 6; k++) {
        p += (rng() < 0.5 ? -1 : 1) * tick;
        if (p < tick) p = tick;
        if (p > hi) hi = p;
        if (p < lo) lo = p;
      }
      bars[i] = { t: firstMinute - (n - i) * MINUTE, o: p, h: hi, l: lo, c: close, v: 20 + Math.floor(rng() * 200) };
      close = p;
    }
    return bars;
  }

  start(): void {
    if (this.timer || (this.cfg.tradesPerSecond <= 0 && !this.cfg.replay)) return;
    this.lastTickAt = performance.now();
    this.replayStart = this.lastTickAt;
    this.timer = setInterval(() => this.tick(), this.cfg.tickIntervalMs);
    this.timer.unref?.();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  private tick(): void {
    const nowPerf = performance.now();
    const dt = (nowPerf - this.lastTickAt) / 1000;
    this.lastTickAt = nowPerf;
    if (this.cfg.replay) {
      this.replayTick(nowPerf);
    } else {
      // Cap catch-up after a stall at 1 s of trades, so a paused loop does not burst.
      const due = this.cfg.tradesPerSecond * Math.min(dt, 1);
      for (const m of this.byId.values()) {
        if (!m.contract.active) continue;
        m.owed += due;
        const n = Math.floor(m.owed);
        m.owed -= n;
        if (n > 0) this.generate(m, n);
      }
    }
    this.flushAll();
  }

  private replayTick(nowPerf: number): void {
    const replay = this.cfg.replay!;
    if (replay.length === 0) return;
    const base = replay[0]!.at;
    const speed = this.cfg.replaySpeed;
    const elapsed = nowPerf - this.replayStart;
    // speed 0: as fast as the timer allows, bounded per tick by tradesPerSecond (at least 1,000 a tick).
    let budget = speed > 0 ? Number.POSITIVE_INFINITY : Math.max(1000, Math.ceil((this.cfg.tradesPerSecond * this.cfg.tickIntervalMs) / 1000));
    while (this.replayIdx < replay.length && budget > 0) {
      const r = replay[this.replayIdx]!;
      if (speed > 0 && (r.at - base) / speed > elapsed) break;
      this.replayIdx++;
      budget--;
      const m = this.byId.get(r.contractId);
      if (!m) continue;
      const tick = m.contract.tick;
      const price = Math.round(r.price / tick) * tick;
      if (r.side === 0) {
        m.ask = price;
        m.bid = price - tick;
      } else {
        m.bid = price;
        m.ask = price + tick;
      }
      this.trade(m, price, r.volume, r.side);
    }
    if (this.replayIdx >= replay.length) this.stop();
  }

  /** n seeded trades on one contract, synchronously (timer ticks and tests). */
  generate(m: ContractMarket, n: number): void {
    const tick = m.contract.tick;
    const p = this.cfg.moveProbability;
    for (let i = 0; i < n; i++) {
      const r = m.rng();
      if (r < p) {
        const up = m.rng() < 0.5;
        const step = up ? tick : -tick;
        if (m.bid + step >= tick) {
          m.bid += step;
          m.ask += step;
        }
      }
      const aggressor: 0 | 1 = m.rng() < 0.5 ? 0 : 1;
      const volume = 1 + Math.floor(m.rng() * 3);
      this.trade(m, aggressor === 0 ? m.ask : m.bid, volume, aggressor);
    }
  }

  /** Move the market to `price` at once: one trade there, a buy at the ask when above the last price, else a sell at the bid (the other side one tick away). Then flush. */
  setPrice(m: ContractMarket, price: number): void {
    const tick = m.contract.tick;
    const aligned = Math.round(price / tick) * tick;
    const aggressor: 0 | 1 = aligned > m.last ? 0 : 1;
    if (aggressor === 0) {
      m.ask = aligned;
      m.bid = aligned - tick;
    } else {
      m.bid = aligned;
      m.ask = aligned + tick;
    }
    this.trade(m, aligned, 1, aggressor);
    this.flush(m);
  }

  private trade(m: ContractMarket, price: number, volume: number, aggressor: 0 | 1): void {
    const at = this.cfg.clock();
    m.last = price;
    m.volume += volume;
    if (price > m.high) m.high = price;
    if (price < m.low) m.low = price;
    m.lastTradeAt = at;
    this.recordBars(m, at, price, volume);
    m.pendingTrades.push(
      `{"symbolId":"${m.contract.symbolId}","price":${formatPrice(price)},"timestamp":"${new Date(at).toISOString()}","type":${aggressor},"volume":${volume}}`,
    );
    this.onTrade(m, price, volume, aggressor, at);
  }

  private recordBars(m: ContractMarket, at: number, price: number, volume: number): void {
    const sec = Math.floor(at / 1000);
    const w = m.secT.length;
    const i = sec % w;
    if (m.secT[i] !== sec) {
      m.secT[i] = sec;
      m.secO[i] = price;
      m.secH[i] = price;
      m.secL[i] = price;
      m.secC[i] = price;
      m.secV[i] = volume;
    } else {
      if (price > m.secH[i]!) m.secH[i] = price;
      if (price < m.secL[i]!) m.secL[i] = price;
      m.secC[i] = price;
      m.secV[i] = m.secV[i]! + volume;
    }
    const minute = Math.floor(at / MINUTE) * MINUTE;
    const bars = m.minutes;
    const lastBar = bars[bars.length - 1];
    if (lastBar && lastBar.t === minute) {
      if (price > lastBar.h) lastBar.h = price;
      if (price < lastBar.l) lastBar.l = price;
      lastBar.c = price;
      lastBar.v += volume;
    } else if (!lastBar || lastBar.t < minute) {
      bars.push({ t: minute, o: price, h: price, l: price, c: price, v: volume });
      // Bounded memory: about 60 days of minute bars per contract.
      if (bars.length > 86_400) bars.splice(0, bars.length - 86_400);
    }
  }

  flushAll(): void {
    for (const m of this.byId.values()) this.flush(m);
  }

  flush(m: ContractMarket): void {
    const trades = m.pendingTrades;
    const now: QuoteState = { lastPrice: m.last, bestBid: m.bid, bestAsk: m.ask, open: m.open, high: m.high, low: m.low, volume: m.volume };
    const prev = m.sent;
    let changed = '';
    if (prev) {
      if (prev.lastPrice !== now.lastPrice) changed += `,"lastPrice":${formatPrice(now.lastPrice)},"change":${formatPrice(now.lastPrice - m.prevClose)},"changePercent":${this.changePercent(m)}`;
      if (prev.bestBid !== now.bestBid) changed += `,"bestBid":${formatPrice(now.bestBid)}`;
      if (prev.bestAsk !== now.bestAsk) changed += `,"bestAsk":${formatPrice(now.bestAsk)}`;
      if (prev.high !== now.high) changed += `,"high":${formatPrice(now.high)}`;
      if (prev.low !== now.low) changed += `,"low":${formatPrice(now.low)}`;
      if (prev.volume !== now.volume) changed += `,"volume":${now.volume}`;
    }
    if (trades.length === 0 && prev && changed === '') return;
    m.sent = now;
    m.pendingTrades = [];
    const stamp = new Date(this.cfg.clock()).toISOString();
    const quote = prev && changed !== '' ? `{"symbol":"${m.contract.symbolId}"${changed},"lastUpdated":"${stamp}","timestamp":"${stamp}"}` : null;
    this.onFlush(m, trades, quote, this.fullQuote(m));
  }

  private changePercent(m: ContractMarket): string {
    if (m.prevClose === 0) return '0';
    return (Math.round(((m.last - m.prevClose) / m.prevClose) * 1e6) / 1e4).toString();
  }

  /** A complete quote (sent once after SubscribeContractQuotes). */
  fullQuote(m: ContractMarket): string {
    const stamp = new Date(this.cfg.clock()).toISOString();
    return (
      `{"symbol":"${m.contract.symbolId}","symbolName":"/${m.contract.spec.name}","lastPrice":${formatPrice(m.last)},"bestBid":${formatPrice(m.bid)},"bestAsk":${formatPrice(m.ask)}` +
      `,"change":${formatPrice(m.last - m.prevClose)},"changePercent":${this.changePercent(m)},"open":${formatPrice(m.open)},"high":${formatPrice(m.high)},"low":${formatPrice(m.low)}` +
      `,"volume":${m.volume},"lastUpdated":"${stamp}","timestamp":"${stamp}"}`
    );
  }

  /** Best bid/ask as a GatewayDepth array. */
  depth(m: ContractMarket): string {
    const stamp = new Date(this.cfg.clock()).toISOString();
    return `[{"timestamp":"${stamp}","type":4,"price":${formatPrice(m.bid)},"volume":10,"currentVolume":10},{"timestamp":"${stamp}","type":3,"price":${formatPrice(m.ask)},"volume":10,"currentVolume":10}]`;
  }

  /** Live 1-second bars with start in [from, to), ascending. */
  secondBars(m: ContractMarket, from: number, to: number): Bar[] {
    const w = m.secT.length;
    const nowSec = Math.floor(this.cfg.clock() / 1000);
    const first = Math.max(Math.ceil(from / 1000), nowSec - w + 1);
    const last = Math.min(Math.ceil(to / 1000) - 1, nowSec);
    const out: Bar[] = [];
    for (let s = first; s <= last; s++) {
      const i = s % w;
      if (m.secT[i] !== s) continue;
      out.push({ t: s * 1000, o: m.secO[i]!, h: m.secH[i]!, l: m.secL[i]!, c: m.secC[i]!, v: m.secV[i]! });
    }
    return out;
  }

  /** Minute bars with start in [from, to), ascending (history then live). */
  minuteBars(m: ContractMarket, from: number, to: number): Bar[] {
    const bars = m.minutes;
    let lo = 0;
    let hi = bars.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (bars[mid]!.t < from) lo = mid + 1;
      else hi = mid;
    }
    const out: Bar[] = [];
    for (let i = lo; i < bars.length && bars[i]!.t < to; i++) out.push(bars[i]!);
    return out;
  }
}

/** Parse `timestamp,contractId,price,volume,side` rows (header optional; side 0/1 or buy/sell). */
export function parseReplayCsv(text: string): ReplayTrade[] {
  const out: ReplayTrade[] = [];
  const lines = text.split(/\r?\n/);
  for (let n = 0; n < lines.length; n++) {
    const line = lines[n]!.trim();
    if (line === '' || line.startsWith('#')) continue;
    const [ts, contractId, price, volume, side] = line.split(',').map((s) => s.trim());
    if (n === 0 && ts === 'timestamp') continue;
    const at = /^\d+$/.test(ts ?? '') ? Number(ts) : Date.parse(ts ?? '');
    const p = Number(price);
    const v = Number(volume);
    const sideNum = side === '0' || side?.toLowerCase() === 'buy' ? 0 : side === '1' || side?.toLowerCase() === 'sell' ? 1 : -1;
    if (!Number.isFinite(at) || !contractId || !Number.isFinite(p) || !Number.isInteger(v) || v <= 0 || sideNum < 0) {
      throw new Error(`replay CSV line ${n + 1}: expected timestamp,contractId,price,volume,side`);
    }
    out.push({ at, contractId, price: priceUnits(p), volume: v, side: sideNum as 0 | 1 });
  }
  return out;
}
