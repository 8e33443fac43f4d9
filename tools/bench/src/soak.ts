// Soak: the steady load for a long time (10 min by default), sampling the engine's RSS, CPU share and its
// main-thread event-loop delay p99 (prom-client's nodejs_eventloop_lag_p99_seconds on /metrics) at a fixed
// interval. RSS is "flat" when the least-squares trend after warm-up predicts < 5 MB growth over the window.
import { startClient, type RunningClient } from './clients';
import { metricValue, scrapeMetrics, type EngineProcess } from './engine-process';
import { cpuSeconds, rssBreakdownMb } from './proc';
import { SOAK_HEAP_APPS, slope, type SoakResult, type SoakSample } from './report';

export interface SoakOptions {
  durationMs: number;
  warmupMs: number;
  intervalMs: number;
  subscribers: number;
  ordersPerSecond: number;
  tradesPerSecond: number;
  symbol: string;
  subscribe: unknown[];
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export const FLAT_GROWTH_MB = 5;
const MB = 1024 * 1024;

type TrendFields = Pick<SoakResult, 'rssSlopeMbPerMin' | 'rssGrowthMb' | 'flat' | 'partSlopesMbPerMin' | 'lastThirdSlopeMbPerMin'>;

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
  return {
    rssSlopeMbPerMin: perMin,
    rssGrowthMb: growth,
    flat: growth < FLAT_GROWTH_MB,
    ...(Object.values(parts).some((v) => v !== undefined) ? { partSlopesMbPerMin: parts } : {}),
    ...(lastThird !== undefined ? { lastThirdSlopeMbPerMin: lastThird } : {}),
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
  let lastCpu = cpuSeconds(engine.pid);
  let lastT = t0;
  try {
    while (Date.now() - t0 < o.durationMs) {
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
      if (samples.length % 6 === 0) log(`soak: ${Math.round(s.tSec)} s, RSS ${s.rssMb.toFixed(1)} MB, CPU ${s.cpuPct.toFixed(1)} %`);
    }
  } finally {
    await subs?.stop().catch(() => undefined);
    await trickle?.stop().catch(() => undefined);
  }
  const warmupSec = o.warmupMs / 1000;
  return {
    durationSec: o.durationMs / 1000,
    warmupSec,
    tradesPerSec: o.tradesPerSecond,
    subscribers: o.subscribers,
    ordersPerSec: o.ordersPerSecond,
    samples,
    ...rssTrend(samples, warmupSec),
  };
}
