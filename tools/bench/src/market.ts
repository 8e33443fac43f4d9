// Steady load against an engine whose simulator prints ~10,000 trades/s: 100 WebSocket subscribers to the
// market-data fan-out and 5 orders/s over gRPC, each from its own client process. Measures the engine
// process's RSS (VmRSS, not the simulator child) and CPU (utime+stime delta over wall time, % of one core),
// the trade → subscriber latency on the subscribers' side (HDR; tick-latency.ts) and from the engine's own
// histogram, and the memory each of many connected subscribers adds.
import type { ClientResult } from './client';
import { startClient, type RunningClient } from './clients';
import { scrapeMetrics, type EngineProcess } from './engine-process';
import { allNotMeasured, notMeasured, type Figures } from './figures';
import { scaleSummary, summarizeSamples } from './hdr';
import { cpuMeter, rssMb } from './proc';

export interface SteadyOptions {
  durationMs: number;
  warmupMs: number;
  subscribers: number;
  ordersPerSecond: number;
  /** Total trades/s the simulator was started with (for the notes). */
  tradesPerSecond: number;
  symbol: string;
  /** The first message each subscriber sends (the fan-out's subscribe request). */
  subscribe: unknown[];
  /** Subscribers for the per-subscriber memory row (0 = skip). */
  memorySubscribers: number;
  /** RSS is averaged over this window before and after connecting them (GC makes single samples noisy). */
  rssWindowMs: number;
  /** Quiet time between connecting them and the second RSS window. */
  memorySettleMs: number;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const nowUs = (): number => Number(process.hrtime.bigint()) / 1000;
const errText = (e: unknown): string => (e instanceof Error ? e.message : String(e)).split('\n')[0]!;

/** Fewer matched frames than this make no percentile worth printing. */
const MIN_LATENCY_FRAMES = 100;

/** Histogram buckets (cumulative, by `le`) of the metric family `name`, summed over every label set. */
export function histogramBuckets(text: string, name: string): Map<number, number> {
  const out = new Map<number, number>();
  const re = new RegExp(`^${name}_bucket\\{([^}]*)\\}\\s+(\\S+)`);
  for (const line of text.split('\n')) {
    const m = re.exec(line);
    if (!m) continue;
    const le = /le="([^"]+)"/.exec(m[1]!);
    if (!le) continue;
    const bound = le[1] === '+Inf' ? Number.POSITIVE_INFINITY : Number(le[1]);
    out.set(bound, (out.get(bound) ?? 0) + Number(m[2]));
  }
  return out;
}

/** Upper bound of the bucket holding quantile q of the observations between two scrapes (undefined if none). */
export function quantileFromDelta(before: Map<number, number>, after: Map<number, number>, q: number): { bound: number; count: number } | undefined {
  const bounds = [...after.keys()].sort((a, b) => a - b);
  // A thread restarted between the scrapes resets its counts: then `after` alone is the window's data.
  const reset = (after.get(Number.POSITIVE_INFINITY) ?? 0) < (before.get(Number.POSITIVE_INFINITY) ?? 0);
  const cum = bounds.map((b) => (after.get(b) ?? 0) - (reset ? 0 : (before.get(b) ?? 0)));
  const total = cum[cum.length - 1] ?? 0;
  if (total <= 0) return undefined;
  for (let i = 0; i < bounds.length; i++) if (cum[i]! >= q * total) return { bound: bounds[i]!, count: total };
  return undefined;
}

/** The engine's trade-arrival → socket-send histogram family, found by name (issue 5), if it exports one. */
export function findTradeToSendHistogram(text: string): string | undefined {
  for (const line of text.split('\n')) {
    const m = /^# TYPE (\S+) histogram/.exec(line);
    if (m && /(trade|tick)/i.test(m[1]!) && /(subscriber|send|sent|fan_?out|publish|deliver)/i.test(m[1]!)) return m[1];
  }
  return undefined;
}

/** Mean VmRSS over `ms`, sampled every 250 ms. */
async function meanRss(pid: number, ms: number): Promise<number> {
  const xs: number[] = [];
  const end = Date.now() + ms;
  while (Date.now() < end) {
    xs.push(rssMb(pid));
    await sleep(250);
  }
  return xs.reduce((a, b) => a + b, 0) / xs.length;
}

export async function measureIdleRss(pid: number, settleMs: number, sampleMs: number): Promise<number> {
  await sleep(settleMs);
  return Math.round((await meanRss(pid, sampleMs)) * 10) / 10;
}

function wsReason(r: ClientResult | undefined, url: string): string {
  const e = r?.errors[0];
  return `market-data WebSocket not reachable at ${url}${e ? ` (${e})` : ''}`;
}

export async function runSteadyLoad(engine: EngineProcess, o: SteadyOptions, notes: string[]): Promise<Figures> {
  const f: Figures = {};
  let subs: RunningClient | undefined;
  let trickle: RunningClient | undefined;
  let watcher: RunningClient | undefined;
  let watcherWhy = '';
  let wsOpen = 0;
  let wsWhy = '';
  // The three client jobs start together during the warm-up (each waits on its own sockets, none needs another),
  // so the engine warms up under the whole load.
  await Promise.all([
    sleep(o.warmupMs),
    startClient({ kind: 'hub-trades', simUrl: engine.simUrl }).then(
      (w) => void (watcher = w),
      (e: unknown) => void (watcherWhy = `market-hub watcher: ${errText(e)}`),
    ),
    startClient({ kind: 'ws-subscribers', url: engine.marketDataWsUrl, count: o.subscribers, subscribe: o.subscribe, connectTimeoutMs: 5000, latency: true }, 120_000).then(
      (s) => {
        subs = s;
        wsOpen = s.ready?.counters['open'] ?? 0;
        if (wsOpen === 0) wsWhy = wsReason(s.ready, engine.marketDataWsUrl);
      },
      (e: unknown) => void (wsWhy = `subscriber client: ${errText(e)}`),
    ),
    startClient({ kind: 'order-trickle', address: engine.grpcAddress, perSecond: o.ordersPerSecond, strategy: `bench_steady_${Date.now().toString(36)}`, symbol: o.symbol }).then(
      (t) => void (trickle = t),
      (e: unknown) => void notes.push(`Steady load: the order flow could not start (${errText(e)}).`),
    ),
  ]);
  // One second for every subscription's first frame (its baseline) and the watcher's first trades.
  await sleep(1000);
  const before = await scrapeMetrics(engine.httpUrl);
  const cpu = cpuMeter(engine.pid);
  const fromUs = nowUs();
  const rss: number[] = [];
  const end = Date.now() + o.durationMs;
  while (Date.now() < end) {
    rss.push(rssMb(engine.pid));
    await sleep(250);
  }
  const cpuPct = cpu.stop();
  const toUs = nowUs();
  const after = await scrapeMetrics(engine.httpUrl);
  // The watcher stops first: every frame received in the window carries trades it has already stamped.
  const watched = watcher ? await watcher.stop().catch((e: unknown) => void (watcherWhy = `market-hub watcher: ${errText(e)}`)) : undefined;
  const batches = watched?.batches;
  const subsResult = subs ? await subs.stop(batches ? { batches, fromUs, toUs } : undefined).catch(() => undefined) : undefined;
  const trickleResult = trickle ? await trickle.stop().catch(() => undefined) : undefined;
  f['engine_load_rss_mb'] = Math.round(Math.max(...rss) * 10) / 10;
  f['engine_cpu_pct'] = Math.round(cpuPct * 10) / 10;

  const latencyKeys = ['tick_to_subscriber_p50_ms', 'tick_to_subscriber_p99_ms', 'tick_to_subscriber_max_ms'];
  const c = subsResult?.counters ?? {};
  const matched = c['latencyMatched'] ?? 0;
  if (wsOpen === 0) Object.assign(f, allNotMeasured(latencyKeys, wsWhy));
  else if (!batches) Object.assign(f, allNotMeasured(latencyKeys, watcherWhy || 'the market-hub watcher returned no trades'));
  else if (!subsResult) Object.assign(f, allNotMeasured(latencyKeys, 'the subscriber client gave no result'));
  else if (matched < MIN_LATENCY_FRAMES) {
    Object.assign(f, allNotMeasured(latencyKeys, `${matched} frames matched to the watcher's trades (${c['latencyUncovered'] ?? 0} outside its view, ${c['latencyMismatch'] ?? 0} without a matching batch; ${batches.length} hub messages watched)`));
  } else {
    const lat = scaleSummary(summarizeSamples(subsResult.samplesUs, 'us'), 1000, 'ms');
    Object.assign(f, { tick_to_subscriber_p50_ms: lat.p50, tick_to_subscriber_p99_ms: lat.p99, tick_to_subscriber_max_ms: lat.max, tick_to_subscriber_frames: matched });
    notes.push(
      `Trade → subscriber (HDR, subscriber side): the interval from the arrival of the simulator's hub message carrying a trade to the receipt, by a subscriber, of the first bar frame holding that trade. Arrival is stamped by a watcher process, a client of the simulator's market hub like the engine's market-data thread and sent the same message in the same simulator turn, on the message event before parsing; receipt is stamped by the subscriber process on the frame's message event before parsing. Both stamps are process.hrtime (CLOCK_MONOTONIC, one clock for every process of the machine). A frame is matched to trades by its bucket [t, end), trade count n and volume v against the watcher's trades of that bucket, and yields one sample per subscriber: its receipt − the arrival of the oldest trade new to that subscriber (the engine coalesces the trades of one event-loop turn into one frame). So a sample covers the engine's parse, aggregation and fan-out, the loopback hop and the subscriber process's own reading (${o.subscribers} sockets in one process), not the wait of a trade in the simulator's timer batch before the send. ${matched} frames matched within the ${o.durationMs / 1000}-s window (${c['latencyUncovered'] ?? 0} of buckets the watcher had not seen from their start, ${c['latencyMismatch'] ?? 0} with no matching batch boundary, ${c['latencyEarly'] ?? 0} received before the watcher's stamp, recorded as 0); HDR histogram in µs: p50 ${lat.p50} ms, p99 ${lat.p99} ms, max ${lat.max} ms.`,
    );
  }

  const hist = findTradeToSendHistogram(after);
  if (wsOpen === 0) f['tick_to_subscriber_engine_p99_ms'] = notMeasured(wsWhy);
  else if (!hist) f['tick_to_subscriber_engine_p99_ms'] = notMeasured('the engine exports no trade → subscriber-send histogram on /metrics (issue 5)');
  else {
    const q = quantileFromDelta(histogramBuckets(before, hist), histogramBuckets(after, hist), 0.99);
    const toMs = /_seconds$/.test(hist) ? 1000 : /_(us|microseconds)$/.test(hist) ? 0.001 : 1;
    f['tick_to_subscriber_engine_p99_ms'] = q && Number.isFinite(q.bound) ? Math.round(q.bound * toMs * 1000) / 1000 : notMeasured(`${hist}: no observations during the window`);
    if (q) notes.push(`Trade → socket write (engine histogram): \`${hist}\` on the engine's /metrics (arrival of the hub message carrying the trade in market-data, before parsing → the bar update written to the last subscriber's socket; no loopback hop, no client), delta of ${q.count} observations between two /metrics scrapes around the window; the figure is the upper bound of the Prometheus bucket holding p99, so it moves in bucket steps (… 5, 7.5, 10 ms …).`);
  }
  const markHist = 'risk_mark_to_pnl_seconds';
  const mq = quantileFromDelta(histogramBuckets(before, markHist), histogramBuckets(after, markHist), 0.99);
  f['mark_to_pnl_p99_ms'] = mq && Number.isFinite(mq.bound) ? Math.round(mq.bound * 1000 * 10) / 10 : notMeasured(`${markHist}: no observations during the window (it needs an open position while marks move)`);
  if (mq) {
    notes.push(
      `Mark → P&L: engine histogram \`${markHist}\` (risk-manager: the mark's write time in shared memory → the account's P&L computed from it published), delta of ${mq.count} observations over the window; upper bound of the bucket holding p99. Whole-millisecond resolution (the mark's time is epoch ms). It includes the wait for the next risk evaluation (RISK_EVAL_INTERVAL_MS, 100 ms by default, sooner on a fill or order event), and a mark overwritten before that evaluation is never observed: the figure is the age of the newest price in the published P&L.`,
    );
  }
  const msgs = subsResult?.counters['messages'] ?? 0;
  notes.push(
    `Steady load: simulator at ${o.tradesPerSecond.toLocaleString('en-US')} trades/s (all contracts), ${wsOpen}/${o.subscribers} WebSocket subscribers connected (${msgs} messages received, ${subsResult?.counters['closedByServer'] ?? 0} closed by the server), ${o.ordersPerSecond} orders/s over gRPC (${trickleResult?.counters['ok'] ?? 0}/${trickleResult?.counters['sent'] ?? 0} placed${trickleResult?.errors[0] ? `; e.g. ${trickleResult.errors[0]}` : ''}); a ${o.durationMs / 1000}-s window that starts 1 s after a warm-up of ${o.warmupMs / 1000} s under the feed (or until every client was connected, if longer: they connect during it). RSS: max of VmRSS samples every 250 ms; CPU: utime+stime delta of the engine process (all its threads, not the simulator child) over the window.`,
  );

  if (o.memorySubscribers > 0) {
    if (wsOpen === 0) f['subscriber_kb_each'] = notMeasured(wsWhy);
    else {
      try {
        const base = await meanRss(engine.pid, o.rssWindowMs);
        const many = await startClient({ kind: 'ws-subscribers', url: engine.marketDataWsUrl, count: o.memorySubscribers, subscribe: o.subscribe, connectTimeoutMs: 30_000 }, 300_000);
        const open = many.ready?.counters['open'] ?? 0;
        await sleep(o.memorySettleMs);
        const loaded = await meanRss(engine.pid, o.rssWindowMs);
        await many.stop().catch(() => undefined);
        f['subscriber_kb_each'] = open > 0 ? Math.round((((loaded - base) * 1024) / open) * 10) / 10 : notMeasured(wsReason(many.ready, engine.marketDataWsUrl));
        notes.push(
          `Subscribers: ${open}/${o.memorySubscribers} connected at once from one client process${many.ready?.errors[0] ? ` (failures e.g. ${many.ready.errors[0]})` : ''}; memory each = (mean RSS over ${o.rssWindowMs / 1000} s with them − mean RSS over ${o.rssWindowMs / 1000} s before) / connected, under the same trade feed (GC noise is of the order of MBs, so the figure is rough).`,
        );
      } catch (e) {
        f['subscriber_kb_each'] = notMeasured(`subscriber client: ${e instanceof Error ? e.message : String(e)}`);
      }
    }
  }
  return f;
}
