// Soak: the steady load for a long time (10 min by default), sampling the engine's RSS, CPU share and its
// main-thread event-loop delay p99 (prom-client's nodejs_eventloop_lag_p99_seconds on /metrics) at a fixed
// interval. A warm-up comes first and fills the engine's bounded per-order and per-bar structures, so that the
// measured window is steady state: RSS is "flat" when the least-squares trend over the window predicts < 5 MB
// growth over it.
import WebSocket from 'ws';
import { runClient, startClient, type RunningClient } from './clients';
import { metricValue, scrapeMetrics, type EngineProcess } from './engine-process';
import { cpuSeconds, rssBreakdownMb } from './proc';
import { SOAK_HEAP_APPS, slope, type SoakResult, type SoakSample, type SoakWarmup } from './report';

export interface SoakOptions {
  /** The measured window, after the warm-up. */
  durationMs: number;
  /** The warm-up ends at this length even when the 1 s bar caches are not full yet (the report says so). */
  maxWarmupMs: number;
  intervalMs: number;
  subscribers: number;
  ordersPerSecond: number;
  tradesPerSecond: number;
  symbol: string;
  subscribe: unknown[];
  /** The engine's BAR_CACHE_SIZE (closed bars kept per contract and timeframe). */
  barCacheSize: number;
  /** Timeframes the probe asks snapshots of (the engine's MARKET_DATA_TIMEFRAMES). */
  timeframes: readonly string[];
  /** Orders of the warm-up burst, and the gRPC channels it runs on (each sends its share one after another). */
  warmupOrders: number;
  warmupChannels: number;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export const FLAT_GROWTH_MB = 5;
const MB = 1024 * 1024;

/**
 * The engine's bounded per-order structures and their caps, which the warm-up burst must exceed. Copied from
 * production (the bench does not import apps): libs/front-door/src/orders/book.ts DEFAULT_MAX_FINAL_RETAINED
 * (final orders without a client order id, main thread) and apps/risk-manager FINAL_ORDER_VERSIONS
 * (order-versions.ts) and PENDING_FILL_ORDERS (account-risk.ts), per account, risk-manager thread.
 */
export const ORDER_CAPS = { finalOrdersOnBook: 2_000, riskFinalVersions: 4_096, riskPendingFills: 4_096 } as const;

/** Burst size: the largest cap plus a quarter, rounded up to a hundred, so every ring has wrapped. */
export function warmupOrderCount(caps: Readonly<Record<string, number>> = ORDER_CAPS): number {
  return Math.ceil((Math.max(...Object.values(caps)) * 1.25) / 100) * 100;
}

/** The timeframe and number of bars of a market-data `snapshot` frame; undefined for any other frame. */
export function snapshotBars(frame: string): { timeframe: string; bars: number } | undefined {
  let m: unknown;
  try {
    m = JSON.parse(frame);
  } catch {
    return undefined;
  }
  if (typeof m !== 'object' || m === null) return undefined;
  const o = m as { type?: unknown; timeframe?: unknown; bars?: unknown };
  if (o.type !== 'snapshot' || typeof o.timeframe !== 'string' || !Array.isArray(o.bars)) return undefined;
  return { timeframe: o.timeframe, bars: o.bars.length };
}

/** The warm-up is over once the order burst is done and the 1 s bar cache holds `capacity` bars. */
export function warmupComplete(burstDone: boolean, oneSecondBars: number | undefined, capacity: number): boolean {
  return burstDone && oneSecondBars !== undefined && oneSecondBars >= capacity;
}

/**
 * Bars the engine's caches hold for one contract, per timeframe, read as full snapshots over one WebSocket
 * connection (a subscriber's view; the connection closes right after). Undefined when the feed did not answer.
 */
export async function probeBarCaches(url: string, symbol: string, timeframes: readonly string[], capacity: number, timeoutMs = 10_000): Promise<Record<string, number> | undefined> {
  return new Promise((resolve) => {
    const out: Record<string, number> = {};
    const ws = new WebSocket(url);
    const done = (r: Record<string, number> | undefined): void => {
      clearTimeout(timer);
      ws.removeAllListeners();
      ws.on('error', () => undefined);
      ws.terminate();
      resolve(r);
    };
    const timer = setTimeout(() => done(Object.keys(out).length ? out : undefined), timeoutMs);
    ws.on('open', () => {
      for (const timeframe of timeframes) ws.send(JSON.stringify({ op: 'subscribe', symbol, timeframe, quotes: false, snapshot: capacity }));
    });
    ws.on('message', (d: Buffer) => {
      const s = snapshotBars(d.toString());
      if (!s) return;
      out[s.timeframe] = s.bars;
      if (timeframes.every((t) => out[t] !== undefined)) done(out);
    });
    ws.on('error', () => done(undefined));
  });
}

type TrendFields = Pick<SoakResult, 'rssSlopeMbPerMin' | 'rssGrowthMb' | 'flat' | 'partSlopesMbPerMin' | 'lastThirdSlopeMbPerMin' | 'rssHalvesMb'>;

/**
 * RSS low and high in each half of the window. V8's collections make RSS a sawtooth of some 10 MB, so a
 * least-squares slope over 10 minutes depends on where in the tooth the window starts; the envelope of each
 * half does not. Information beside the verdict, not a second rule.
 */
export function rssHalves(post: readonly SoakSample[]): NonNullable<SoakResult['rssHalvesMb']> | undefined {
  if (post.length < 4) return undefined;
  const mid = post[0]!.tSec + (post[post.length - 1]!.tSec - post[0]!.tSec) / 2;
  const range = (xs: readonly SoakSample[]): [number, number] => [Math.min(...xs.map((x) => x.rssMb)), Math.max(...xs.map((x) => x.rssMb))];
  const first = post.filter((x) => x.tSec < mid);
  const second = post.filter((x) => x.tSec >= mid);
  if (first.length === 0 || second.length === 0) return undefined;
  return { first: range(first), second: range(second) };
}

/** Least-squares slope of one field over the samples that have it, MB per minute; undefined under 2 points. */
function slopePerMin(samples: readonly SoakSample[], pick: (s: SoakSample) => number | undefined): number | undefined {
  const pts = samples.filter((s) => pick(s) !== undefined);
  if (pts.length < 2) return undefined;
  return (
    slope(
      pts.map((s) => s.tSec),
      pts.map((s) => pick(s)!),
    ) * 60
  );
}

/** Trend of post-warm-up samples → SoakResult fields. The verdict is on the whole post-warm-up RSS. */
export function rssTrend(samples: readonly SoakSample[], warmupSec: number): TrendFields {
  const post = samples.filter((s) => s.tSec >= warmupSec);
  if (post.length < 2) return { rssSlopeMbPerMin: 0, rssGrowthMb: 0, flat: true };
  const perMin = slopePerMin(post, (s) => s.rssMb)!;
  const growth = (perMin / 60) * (post[post.length - 1]!.tSec - post[0]!.tSec);
  const parts = {
    anon: slopePerMin(post, (s) => s.rssAnonMb),
    heapCommitted: slopePerMin(post, (s) => s.heapCommittedMb),
    external: slopePerMin(post, (s) => s.externalMb),
  };
  const lastThird = slopePerMin(post.slice(Math.floor((post.length * 2) / 3)), (s) => s.rssMb);
  const halves = rssHalves(post);
  return {
    rssSlopeMbPerMin: perMin,
    rssGrowthMb: growth,
    flat: growth < FLAT_GROWTH_MB,
    ...(Object.values(parts).some((v) => v !== undefined) ? { partSlopesMbPerMin: parts } : {}),
    ...(lastThird !== undefined ? { lastThirdSlopeMbPerMin: lastThird } : {}),
    ...(halves ? { rssHalvesMb: halves } : {}),
  };
}

/** Per-thread V8 heap-in-use slope over the window, MB/min: which thread a growth is in. */
export function heapSlopes(samples: readonly SoakSample[], warmupSec: number): Record<string, number> {
  const post = samples.filter((s) => s.tSec >= warmupSec);
  const out: Record<string, number> = {};
  for (const app of SOAK_HEAP_APPS) {
    const v = slopePerMin(post, (s) => s.heapMb?.[app]);
    if (v !== undefined) out[app] = v;
  }
  return out;
}

/**
 * The warm-up, while the steady load already runs: one burst of `warmupOrders` market orders (fills the order
 * book's final orders and the risk-manager's rings past their caps), then waits until the 1 s bar cache is
 * full. Only time fills that one: the simulator keeps 1 s bars only from its own start, so the start-up
 * backfill finds a few seconds of them, and one bar closes per second.
 */
async function warmUp(engine: EngineProcess, o: SoakOptions, t0: number, log: (s: string) => void): Promise<SoakWarmup> {
  const probe = (): Promise<Record<string, number> | undefined> => probeBarCaches(engine.marketDataWsUrl, o.symbol, o.timeframes, o.barCacheSize);
  const barsAtStart = await probe();
  log(`soak warm-up: bar caches of ${o.symbol} at start ${barsAtStart ? JSON.stringify(barsAtStart) : 'not readable'}; ${o.warmupOrders} orders on ${o.warmupChannels} channels…`);
  const b0 = Date.now();
  let placed = 0;
  let sent = 0;
  let burstError: string | undefined;
  try {
    const r = await runClient(
      { kind: 'grpc-load', address: engine.grpcAddress, channels: o.warmupChannels, perChannel: Math.ceil(o.warmupOrders / o.warmupChannels), strategy: `bench_warm_${Date.now().toString(36)}`, symbol: o.symbol, firstChannel: 0 },
      600_000,
    );
    sent = r.outcomes.length;
    placed = r.outcomes.filter((x) => x.ok).length;
  } catch (e) {
    burstError = e instanceof Error ? e.message.split('\n')[0]! : String(e);
  }
  const burstSec = (Date.now() - b0) / 1000;
  log(`soak warm-up: ${placed} of ${sent} orders placed in ${burstSec.toFixed(1)} s${burstError ? ` (burst failed: ${burstError})` : ''}; waiting for the 1 s bar caches (${o.barCacheSize} bars)…`);
  let oneSecond = barsAtStart?.['1s'];
  let probed = barsAtStart !== undefined;
  while (!warmupComplete(true, oneSecond, o.barCacheSize) && Date.now() - t0 < o.maxWarmupMs) {
    // Without a readable feed, the cache is full cacheSize seconds after the start: wait that long.
    const left = probed ? Math.max(1_000, (o.barCacheSize - (oneSecond ?? 0)) * 1000) : o.barCacheSize * 1000 - (Date.now() - t0);
    await sleep(Math.min(30_000, left, Math.max(0, o.maxWarmupMs - (Date.now() - t0))));
    if (!probed && Date.now() - t0 >= o.barCacheSize * 1000) break;
    const p = await probe();
    if (p) {
      probed = true;
      oneSecond = p['1s'];
    }
  }
  const barsAtEnd = probed ? await probe() : undefined;
  const oneSecondAtEnd = barsAtEnd?.['1s'];
  return {
    sec: (Date.now() - t0) / 1000,
    ordersSent: sent,
    ordersPlaced: placed,
    channels: o.warmupChannels,
    burstSec,
    ...(burstError ? { burstError } : {}),
    caps: { ...ORDER_CAPS },
    barCacheSize: o.barCacheSize,
    ...(barsAtStart ? { barsAtStart } : {}),
    ...(barsAtEnd ? { barsAtEnd } : {}),
    steady: burstError === undefined && placed > Math.max(...Object.values(ORDER_CAPS)) && (probed ? warmupComplete(true, oneSecondAtEnd, o.barCacheSize) : Date.now() - t0 >= o.barCacheSize * 1000),
  };
}

export async function runSoak(engine: EngineProcess, o: SoakOptions, log: (s: string) => void): Promise<SoakResult> {
  let subs: RunningClient | undefined;
  let trickle: RunningClient | undefined;
  try {
    subs = await startClient({ kind: 'ws-subscribers', url: engine.marketDataWsUrl, count: o.subscribers, subscribe: o.subscribe, connectTimeoutMs: 5000 }, 120_000);
  } catch (e) {
    log(`soak: subscribers could not start: ${e instanceof Error ? e.message : String(e)}`);
  }
  try {
    trickle = await startClient({ kind: 'order-trickle', address: engine.grpcAddress, perSecond: o.ordersPerSecond, strategy: `bench_soak_${Date.now().toString(36)}`, symbol: o.symbol });
  } catch (e) {
    log(`soak: order flow could not start: ${e instanceof Error ? e.message : String(e)}`);
  }
  const samples: SoakSample[] = [];
  const t0 = Date.now();
  // Sampling runs through the warm-up too (the plot shows it); the verdict reads only the window after it.
  let warmup: SoakWarmup | undefined;
  let warmupEnd: number | undefined;
  const warming = warmUp(engine, o, t0, log).then(
    (w) => {
      warmup = w;
      warmupEnd = Date.now();
      log(`soak: warm-up done after ${w.sec.toFixed(0)} s${w.steady ? '' : ' (NOT steady: see the report)'}; measuring ${o.durationMs / 60_000} min…`);
    },
    (e: unknown) => {
      // The window still runs (and the report carries no warm-up record, so it reads as not steady).
      warmupEnd = Date.now();
      log(`soak: warm-up failed: ${e instanceof Error ? e.message : String(e)}`);
    },
  );
  let lastCpu = cpuSeconds(engine.pid);
  let lastT = t0;
  try {
    while (warmupEnd === undefined || Date.now() - warmupEnd < o.durationMs) {
      await sleep(o.intervalMs);
      const now = Date.now();
      const cpu = cpuSeconds(engine.pid);
      const metrics = await scrapeMetrics(engine.httpUrl);
      const eld = metricValue(metrics, 'nodejs_eventloop_lag_p99_seconds', { app: 'engine' });
      const heapMb: Record<string, number> = {};
      let heapCommittedMb: number | undefined;
      let externalMb: number | undefined;
      const add = (sum: number | undefined, bytes: number | undefined): number | undefined => (bytes === undefined ? sum : (sum ?? 0) + bytes / MB);
      for (const app of SOAK_HEAP_APPS) {
        const v = metricValue(metrics, 'nodejs_heap_size_used_bytes', { app });
        if (v !== undefined) heapMb[app] = v / MB;
        heapCommittedMb = add(heapCommittedMb, metricValue(metrics, 'nodejs_heap_size_total_bytes', { app }));
        externalMb = add(externalMb, metricValue(metrics, 'nodejs_external_memory_bytes', { app }));
      }
      const mem = rssBreakdownMb(engine.pid);
      const s: SoakSample = {
        tSec: (now - t0) / 1000,
        rssMb: mem.rssMb,
        rssAnonMb: mem.anonMb,
        ...(heapCommittedMb !== undefined ? { heapCommittedMb } : {}),
        ...(externalMb !== undefined ? { externalMb } : {}),
        eldP99Ms: eld === undefined ? Number.NaN : eld * 1000,
        cpuPct: ((cpu - lastCpu) / ((now - lastT) / 1000)) * 100,
        heapMb,
      };
      lastCpu = cpu;
      lastT = now;
      samples.push(s);
      if (samples.length % 12 === 0) log(`soak: ${Math.round(s.tSec)} s${warmupEnd === undefined ? ' (warm-up)' : ''}, RSS ${s.rssMb.toFixed(1)} MB, CPU ${s.cpuPct.toFixed(1)} %`);
    }
  } finally {
    await warming.catch(() => undefined);
    await subs?.stop().catch(() => undefined);
    await trickle?.stop().catch(() => undefined);
  }
  const warmupSec = (warmupEnd! - t0) / 1000;
  return {
    durationSec: o.durationMs / 1000,
    warmupSec,
    ...(warmup ? { warmup } : {}),
    tradesPerSec: o.tradesPerSecond,
    subscribers: o.subscribers,
    ordersPerSec: o.ordersPerSecond,
    samples,
    ...rssTrend(samples, warmupSec),
    heapSlopesMbPerMin: heapSlopes(samples, warmupSec),
  };
}
