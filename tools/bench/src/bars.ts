// Bar aggregation throughput: N seeded trades into the six default timeframes with ATR(14), SMA(20), EMA(20), on
// one thread, against the same aggregation feeding the `technicalindicators` streaming API (nextValue) on each
// closed bar instead of ours. Goal: ≥ 1 000 000 trades/s. Run: `npx tsx tools/bench/src/bars.ts [trades] [seed]`.
// Prints numbers only; nothing here asserts a timing.
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import type * as BarsLib from '@gateway/bars';

export const BARS_GOAL_TRADES_PER_SEC = 1_000_000;

export interface BarsBenchResult {
  tradesPerSec: number;
  oracleTradesPerSec: number;
  ratio: number;
  /** Indicators alone on the closed bars of that run (ATR+SMA+EMA per bar): ours and the oracle, bars/s. */
  indicatorBarsPerSec: number;
  oracleIndicatorBarsPerSec: number;
}

interface Trades {
  ts: Float64Array;
  price: Float64Array;
  volume: Float64Array;
}

function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** ES-like prints from Monday 2026-07-13 17:00 CDT: 0–60 ms apart (≈33/s), ±2 ticks of 0.25, 1–20 lots. */
function makeTrades(n: number, seed: number): Trades {
  const rnd = mulberry32(seed);
  const ts = new Float64Array(n);
  const price = new Float64Array(n);
  const volume = new Float64Array(n);
  let t = Date.parse('2026-07-13T22:00:00Z');
  let ticks = 20_000;
  for (let i = 0; i < n; i++) {
    t += Math.floor(rnd() * 61);
    ticks += Math.floor(rnd() * 5) - 2;
    ts[i] = t;
    price[i] = ticks * 250_000_000;
    volume[i] = 1 + Math.floor(rnd() * 20);
  }
  return { ts, price, volume };
}

async function loadBars(): Promise<typeof BarsLib> {
  return import('@gateway/bars');
}

type Oracle = typeof import('technicalindicators');

function timeOurs(bars: typeof BarsLib, tr: Trades): number {
  const agg = new bars.BarAggregator({ atrPeriod: 14, smaPeriods: [20], emaPeriods: [20] });
  const { ts, price, volume } = tr;
  const n = ts.length;
  const t0 = performance.now();
  for (let i = 0; i < n; i++) agg.onTrade(price[i]!, volume[i]!, ts[i]!);
  agg.closeUpTo(Number.POSITIVE_INFINITY);
  return performance.now() - t0;
}

function timeOracle(bars: typeof BarsLib, ti: Oracle, tr: Trades): number {
  const per = bars.DEFAULT_TIMEFRAMES.map(() => ({
    atr: new ti.ATR({ period: 14, high: [], low: [], close: [] }),
    sma: new ti.SMA({ period: 20, values: [] }),
    ema: new ti.EMA({ period: 20, values: [] }),
  }));
  const agg = new bars.BarAggregator({
    indicators: false,
    onClose: (s, b) => {
      const o = per[s.index]!;
      o.atr.nextValue({ high: b.high, low: b.low, close: b.close } as never);
      o.sma.nextValue(b.close);
      o.ema.nextValue(b.close);
    },
  });
  const { ts, price, volume } = tr;
  const n = ts.length;
  const t0 = performance.now();
  for (let i = 0; i < n; i++) agg.onTrade(price[i]!, volume[i]!, ts[i]!);
  agg.closeUpTo(Number.POSITIVE_INFINITY);
  return performance.now() - t0;
}

interface Hlc {
  high: number;
  low: number;
  close: number;
}

function closedBars(bars: typeof BarsLib, tr: Trades): Hlc[][] {
  const out: Hlc[][] = bars.DEFAULT_TIMEFRAMES.map(() => []);
  const agg = new bars.BarAggregator({ indicators: false, onClose: (s, b) => out[s.index]!.push({ high: b.high, low: b.low, close: b.close }) });
  for (let i = 0; i < tr.ts.length; i++) agg.onTrade(tr.price[i]!, tr.volume[i]!, tr.ts[i]!);
  agg.closeUpTo(Number.POSITIVE_INFINITY);
  return out;
}

function timeIndicators(bars: typeof BarsLib, perTf: Hlc[][]): number {
  const t0 = performance.now();
  for (const list of perTf) {
    const atr = new bars.Atr(14);
    const sma = new bars.Sma(20);
    const ema = new bars.Ema(20);
    for (const b of list) {
      atr.update(b.high, b.low, b.close);
      sma.update(b.close);
      ema.update(b.close);
    }
  }
  return performance.now() - t0;
}

function timeOracleIndicators(ti: Oracle, perTf: Hlc[][]): number {
  const t0 = performance.now();
  for (const list of perTf) {
    const atr = new ti.ATR({ period: 14, high: [], low: [], close: [] });
    const sma = new ti.SMA({ period: 20, values: [] });
    const ema = new ti.EMA({ period: 20, values: [] });
    for (const b of list) {
      atr.nextValue(b as never);
      sma.nextValue(b.close);
      ema.nextValue(b.close);
    }
  }
  return performance.now() - t0;
}

export async function runBarsBench(opts: { trades: number; seed: number }): Promise<BarsBenchResult> {
  if (!Number.isSafeInteger(opts.trades) || opts.trades < 1) throw new RangeError(`trades: expected a positive integer, got ${opts.trades}`);
  const bars = await loadBars();
  const ti = (await import('technicalindicators')) as Oracle;
  const tr = makeTrades(opts.trades, opts.seed);
  // Warm-up on a prefix so both sides run JIT-compiled code; then three timed runs each, best kept.
  const warm = makeTrades(Math.min(opts.trades, 200_000), opts.seed + 1);
  timeOurs(bars, warm);
  timeOracle(bars, ti, warm);
  let ours = Number.POSITIVE_INFINITY;
  let oracle = Number.POSITIVE_INFINITY;
  for (let r = 0; r < 3; r++) {
    ours = Math.min(ours, timeOurs(bars, tr));
    oracle = Math.min(oracle, timeOracle(bars, ti, tr));
  }
  const tradesPerSec = Math.round((opts.trades / ours) * 1000);
  const oracleTradesPerSec = Math.round((opts.trades / oracle) * 1000);
  const perTf = closedBars(bars, tr);
  const nBars = perTf.reduce((a, l) => a + l.length, 0);
  let ind = Number.POSITIVE_INFINITY;
  let oind = Number.POSITIVE_INFINITY;
  for (let r = 0; r < 3; r++) {
    ind = Math.min(ind, timeIndicators(bars, perTf));
    oind = Math.min(oind, timeOracleIndicators(ti, perTf));
  }
  return {
    tradesPerSec,
    oracleTradesPerSec,
    ratio: tradesPerSec / oracleTradesPerSec,
    indicatorBarsPerSec: Math.round((nBars / ind) * 1000),
    oracleIndicatorBarsPerSec: Math.round((nBars / oind) * 1000),
  };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  // Run directly (tsx): resolve the @gateway/* aliases from the workspace tsconfig before loading the lib.
  const { register } = await import('tsx/esm/api');
  register({ tsconfig: fileURLToPath(new URL('../../../tsconfig.base.json', import.meta.url)) });
  const trades = Number(process.argv[2] ?? 2_000_000);
  const seed = Number(process.argv[3] ?? 1);
  const r = await runBarsBench({ trades, seed });
  const goal = r.tradesPerSec >= BARS_GOAL_TRADES_PER_SEC ? 'meets' : 'MISSES';
  process.stdout.write(
    [
      `bars: ${trades} trades, 6 timeframes (1s 1m 5m 15m 1h 1d), ATR(14) SMA(20) EMA(20), one thread, seed ${seed}`,
      `  ours:                 ${r.tradesPerSec.toLocaleString('en-US')} trades/s  (goal ≥ ${BARS_GOAL_TRADES_PER_SEC.toLocaleString('en-US')}: ${goal})`,
      `  technicalindicators:  ${r.oracleTradesPerSec.toLocaleString('en-US')} trades/s  (same aggregation, oracle nextValue on each close)`,
      `  ratio ours/oracle:    ${r.ratio.toFixed(2)}`,
      `  indicators alone:     ours ${r.indicatorBarsPerSec.toLocaleString('en-US')} bars/s, technicalindicators ${r.oracleIndicatorBarsPerSec.toLocaleString('en-US')} bars/s (${(r.indicatorBarsPerSec / r.oracleIndicatorBarsPerSec).toFixed(1)}×)`,
      '',
    ].join('\n'),
  );
}
