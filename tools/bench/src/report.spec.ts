import { describe, expect, it } from 'vitest';
import { REQUIRED_JSON_KEYS, figuresToJson, notMeasured, type Figures } from './figures';
import { SOAK_END, SOAK_START, asciiPlot, extractSoakSection, renderReport, renderSoak, renderTable, slope, slowCaches, timeframeSec, warmupLines, type ReportInput, type SoakResult, type SoakWarmup } from './report';
import { rssTrend } from './soak';

const machine = { cpuModel: 'Test CPU', cores: 2, ramGb: 8, node: 'v20.0.0', os: 'Linux test' };

const soak = (rss: number[]): SoakResult => {
  const samples = rss.map((r, i) => ({ tSec: i * 10, rssMb: r, eldP99Ms: 1.5, cpuPct: 12 }));
  return { durationSec: 600, warmupSec: 0, tradesPerSec: 10_000, subscribers: 100, ordersPerSec: 5, samples, ...rssTrend(samples, 0) };
};

describe('PERFORMANCE.md writer', () => {
  const figures: Figures = {
    order_grpc_p99_ms: 1.234,
    engine_idle_rss_mb: 180,
    bars_oracle_ratio: 2.5,
    tick_to_subscriber_p99_ms: notMeasured('market-data WebSocket not reachable'),
  };

  it('renders one table row per figure with goal, measured value and verdict', () => {
    const t = renderTable(figures).split('\n');
    expect(t[0]).toBe('| Row | Seed target | Our goal | Measured | Result |');
    expect(t).toHaveLength(2 + 4);
    expect(t.find((l) => l.startsWith('| PlaceOrder round trip, gRPC, p99'))).toBe('| PlaceOrder round trip, gRPC, p99 | 10–20 ms order execution | ≤ 2 ms | 1.234 ms | pass |');
    expect(t.find((l) => l.startsWith('| Engine RSS, idle'))).toContain('| 180.0 MB | **FAIL** |');
    expect(t.find((l) => l.includes('technicalindicators'))).toContain('| 2.50 × | info |');
    expect(t.find((l) => l.startsWith('| Trade → WebSocket'))).toContain('not measured: market-data WebSocket not reachable | — |');
  });

  it('writes machine, date, mode, notes, and a placeholder when no soak ever ran', () => {
    const input: ReportInput = { machine, date: new Date('2026-11-25T10:00:00Z'), mode: 'quick', figures, notes: ['how A was measured'] };
    const md = renderReport(input);
    expect(md).toContain('- Date: 2026-11-25T10:00:00.000Z');
    expect(md).toContain('- Mode: quick');
    expect(md).toContain('Test CPU, 2 cores, 8.0 GB RAM, Linux test, Node v20.0.0');
    expect(md).toContain('- how A was measured');
    expect(md).toContain('Not run yet: `npm run bench -- --soak`');
  });

  it('keeps the previous soak section when this run did not soak, and replaces it when it did', () => {
    const base: ReportInput = { machine, date: new Date('2026-11-25T10:00:00Z'), mode: 'soak', figures: {}, notes: [], soak: soak([90, 90.5, 90.2, 90.4]) };
    const first = renderReport(base);
    const section = extractSoakSection(first)!;
    expect(section.startsWith(SOAK_START) && section.endsWith(SOAK_END)).toBe(true);
    expect(section).toContain('**flat**');
    const second = renderReport({ ...base, mode: 'full', soak: undefined, figures }, first);
    expect(extractSoakSection(second)).toBe(section);
    const third = renderReport({ ...base, soak: soak([90, 100, 110, 120]) }, first);
    expect(extractSoakSection(third)).toContain('**GROWING**');
  });

  it('prints --json with every required key, null and a reason when not measured', () => {
    const j = figuresToJson(figures, { mode: 'quick' });
    for (const k of REQUIRED_JSON_KEYS) expect(k in j).toBe(true);
    expect(j['order_grpc_p99_ms']).toBe(1.234);
    expect(j['tick_to_subscriber_p99_ms']).toBeNull();
    expect((j['not_measured'] as Record<string, string>)['tick_to_subscriber_p99_ms']).toBe('market-data WebSocket not reachable');
    expect((j['not_measured'] as Record<string, string>)['batch100_ms']).toMatch(/not run/);
    expect(j['mode']).toBe('quick');
  });
});

describe('soak helpers', () => {
  it('fits the RSS slope by least squares', () => {
    expect(slope([0, 1, 2, 3], [1, 3, 5, 7])).toBeCloseTo(2, 12);
    expect(slope([0], [5])).toBe(0);
    const t = rssTrend(soak([100, 101, 102, 103, 104, 105, 106]).samples, 0);
    expect(t.rssSlopeMbPerMin).toBeCloseTo(6, 9);
    expect(t.rssGrowthMb).toBeCloseTo(6, 9);
    expect(t.flat).toBe(false);
  });

  it('lists each thread\'s V8 heap per sample, a dash for a thread that did not report', () => {
    const s = soak([150, 151]);
    s.samples[0]!.heapMb = { engine: 14.26, 'market-data': 20.5, 'risk-manager': 12, 'order-executor': 11.04 };
    s.samples[1]!.heapMb = { engine: 15, 'market-data': 21 };
    s.samples[0]!.rssAnonMb = 95.04;
    s.samples[0]!.heapCommittedMb = 70.55;
    s.samples[0]!.externalMb = 17.6;
    const rows = renderSoak(s, new Date(0)).split('\n').filter((l) => /^\| \d/.test(l));
    expect(rows[0]).toBe('| 0 | 150.0 | 95.0 | 70.6 | 17.6 | 1.50 | 12.0 | 14.3 · 20.5 · 12.0 · 11.0 |');
    expect(rows[1]).toBe('| 10 | 151.0 | — | — | — | 1.50 | 12.0 | 15.0 · 21.0 · — · — |');
  });

  it('splits the trend into its parts and reports the last third on its own, so a filling cache tells from a leak', () => {
    // RSS climbs 1 MB per sample for 6 samples (a cache filling), then stays: the whole window grows, the last third does not.
    const rss = [100, 101, 102, 103, 104, 105, 106, 106, 106, 106, 106, 106];
    const samples = rss.map((r, i) => ({ tSec: i * 60, rssMb: r, rssAnonMb: r - 55, heapCommittedMb: 70 + i, externalMb: 17, eldP99Ms: 1, cpuPct: 10 }));
    const t = rssTrend(samples, 0);
    expect(t.flat).toBe(false);
    expect(t.lastThirdSlopeMbPerMin).toBeCloseTo(0, 9);
    expect(t.partSlopesMbPerMin?.heapCommitted).toBeCloseTo(1, 9);
    expect(t.partSlopesMbPerMin?.external).toBeCloseTo(0, 9);
    expect(t.partSlopesMbPerMin?.anon).toBeCloseTo(t.rssSlopeMbPerMin, 9);
    const md = renderSoak({ durationSec: 720, warmupSec: 0, tradesPerSec: 10_000, subscribers: 100, ordersPerSec: 5, samples, ...t }, new Date(0));
    expect(md).toContain('V8 committed (all threads) 1.000');
    expect(md).toContain('RSS slope over the last third of the window: 0.000 MB/min');
  });

  it('plots one column per sample with the extremes on the top and bottom rows', () => {
    const rows = asciiPlot(soak([10, 20, 30]).samples, 60, 3).split('\n');
    expect(rows[0]).toMatch(/30\.0 MB \| {2}\*$/);
    expect(rows[2]).toMatch(/10\.0 MB \|\* {2}$/);
  });
});

describe('soak warm-up in the report', () => {
  const warmup: SoakWarmup = {
    sec: 1_003,
    ordersSent: 5_200,
    ordersPlaced: 5_200,
    channels: 10,
    burstSec: 26,
    caps: { finalOrdersOnBook: 2_000, riskFinalVersions: 4_096 },
    barCacheSize: 1000,
    barsAtStart: { '1s': 4, '1m': 999 },
    barsAtEnd: { '1s': 1000, '1m': 1000, '1h': 120 },
    steady: true,
  };

  it('says what the warm-up did, where the window starts, and which caches still grow', () => {
    const s = { ...soak([150, 150]), warmupSec: 1_003, warmup };
    const md = renderSoak(s, new Date(0));
    expect(md).toContain('a measured window of 10 min at 10,000 trades/s, 100 WebSocket subscribers, 5 orders/s, after 1,003 s of warm-up');
    expect(md).toContain('a burst of 5,200 market orders placed of 5,200 sent, on 10 gRPC channels in 26.0 s (200 orders/s)');
    expect(md).toContain('(finalOrdersOnBook 2,000, riskFinalVersions 4,096)');
    expect(md).toContain('at the start 1s 4, 1m 999; when the window started 1s 1000, 1m 1000, 1h 120.');
    expect(md).toContain('the window is steady state.');
    expect(md).toContain('1h 120 (at most 2 more over the window)');
    expect(md).toContain('the window starts at 1,003 s');
    expect(renderSoak({ ...s, rssHalvesMb: { first: [175.04, 185], second: [178, 185.2] } }, new Date(0))).toContain('RSS low–high in the first / second half of the window: 175.0–185.0 / 178.0–185.2 MB');
  });

  it('flags a window that started before the caches were full, and a warm-up that left no record', () => {
    const notSteady = warmupLines({ ...soak([150, 150]), warmupSec: 60, warmup: { ...warmup, steady: false, barsAtEnd: { '1s': 60 } } }).join('\n');
    expect(notSteady).toContain('**The warm-up ended before');
    expect(notSteady).toContain('1s 60 (at most 601 more over the window)');
    expect(warmupLines({ ...soak([150, 150]), warmupSec: 60 }).join('\n')).toContain('no record');
    expect(warmupLines(soak([150, 150]))).toEqual([]);
  });

  it('reads timeframe names and bounds the bars a cache can add', () => {
    expect(timeframeSec('1s')).toBe(1);
    expect(timeframeSec('15m')).toBe(900);
    expect(timeframeSec('1h')).toBe(3600);
    expect(timeframeSec('1d')).toBe(86_400);
    expect(timeframeSec('1w')).toBeUndefined();
    expect(slowCaches({ '1s': 1000, '15m': 480, odd: 3 }, 1000, 600)).toEqual([
      { timeframe: '15m', bars: 480, maxNew: 2 },
      { timeframe: 'odd', bars: 3, maxNew: 997 },
    ]);
    expect(slowCaches(undefined, 1000, 600)).toEqual([]);
  });
});
