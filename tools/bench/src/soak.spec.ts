import { WebSocketServer } from 'ws';
import { afterEach, describe, expect, it } from 'vitest';
import { ORDER_CAPS, heapSlopes, probeBarCaches, rssHalves, rssTrend, snapshotBars, warmupComplete, warmupOrderCount } from './soak';
import type { SoakSample } from './report';

describe('soak warm-up', () => {
  it('sends more orders than the largest per-order cap, with a quarter to spare', () => {
    expect(warmupOrderCount()).toBe(5_200);
    for (const cap of Object.values(ORDER_CAPS)) expect(warmupOrderCount()).toBeGreaterThan(cap);
    expect(warmupOrderCount({ a: 100, b: 2_001 })).toBe(2_600);
  });

  it('reads the bar count of a snapshot frame and ignores every other frame', () => {
    expect(snapshotBars('{"type":"snapshot","symbol":"MNQ","timeframe":"1s","bars":[{"t":1},{"t":2}]}')).toEqual({ timeframe: '1s', bars: 2 });
    expect(snapshotBars('{"type":"bar","timeframe":"1s","bar":{}}')).toBeUndefined();
    expect(snapshotBars('{"type":"snapshot","timeframe":"1s"}')).toBeUndefined();
    expect(snapshotBars('not json')).toBeUndefined();
    expect(snapshotBars('null')).toBeUndefined();
  });

  it('is over only once the burst is done and the 1 s cache is full', () => {
    expect(warmupComplete(true, 1000, 1000)).toBe(true);
    expect(warmupComplete(true, 999, 1000)).toBe(false);
    expect(warmupComplete(false, 1000, 1000)).toBe(false);
    expect(warmupComplete(true, undefined, 1000)).toBe(false);
  });

  it('judges only the samples after the warm-up', () => {
    // A cache filling over the first 5 samples (warm-up), flat after.
    const rss = [100, 110, 120, 130, 140, 150, 150, 150.2, 150, 150.1, 150];
    const samples: SoakSample[] = rss.map((r, i) => ({ tSec: i * 60, rssMb: r, eldP99Ms: 1, cpuPct: 10 }));
    expect(rssTrend(samples, 0).flat).toBe(false);
    const after = rssTrend(samples, 300);
    expect(after.flat).toBe(true);
    expect(Math.abs(after.rssGrowthMb)).toBeLessThan(1);
  });

  it('gives the envelope of each half of the window, which a sawtooth\'s phase does not move', () => {
    const tooth = [175, 180, 185, 176, 181, 186, 177, 182, 185, 178];
    const samples: SoakSample[] = tooth.map((r, i) => ({ tSec: 1000 + i * 60, rssMb: r, eldP99Ms: 1, cpuPct: 10 }));
    expect(rssHalves(samples)).toEqual({ first: [175, 185], second: [177, 186] });
    expect(rssTrend(samples, 1000).rssHalvesMb).toEqual({ first: [175, 185], second: [177, 186] });
    expect(rssHalves(samples.slice(0, 3))).toBeUndefined();
  });

  it('gives each thread its heap slope over the window, skipping a thread that never reported', () => {
    const samples: SoakSample[] = [0, 1, 2, 3].map((i) => ({ tSec: i * 60, rssMb: 150, eldP99Ms: 1, cpuPct: 10, heapMb: { engine: 20 + i, 'risk-manager': 13 } }));
    const h = heapSlopes(samples, 60);
    expect(h['engine']).toBeCloseTo(1, 9);
    expect(h['risk-manager']).toBeCloseTo(0, 9);
    expect(h).not.toHaveProperty('market-data');
  });
});

describe('bar cache probe', () => {
  let wss: WebSocketServer | undefined;
  afterEach(async () => {
    await new Promise<void>((r) => (wss ? wss.close(() => r()) : r()));
    wss = undefined;
  });

  const server = async (held: Record<string, number>): Promise<string> => {
    wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
    wss.on('connection', (ws) => {
      ws.on('message', (d) => {
        const m = JSON.parse(String(d)) as { timeframe: string; snapshot: number };
        const n = Math.min(m.snapshot, held[m.timeframe] ?? 0);
        ws.send(JSON.stringify({ type: 'bar', timeframe: m.timeframe, bar: {} }));
        ws.send(Buffer.from(JSON.stringify({ type: 'snapshot', timeframe: m.timeframe, bars: Array.from({ length: n }, (_, i) => ({ t: i })) })));
      });
    });
    await new Promise<void>((r) => wss!.once('listening', () => r()));
    const a = wss.address();
    return `ws://127.0.0.1:${typeof a === 'object' && a ? a.port : 0}`;
  };

  it('counts the bars of each timeframe the feed holds, asking for the whole cache', async () => {
    const url = await server({ '1s': 412, '1m': 1500 });
    expect(await probeBarCaches(url, 'MNQ', ['1s', '1m'], 1000, 20_000)).toEqual({ '1s': 412, '1m': 1000 });
  });

  it('answers undefined when the feed is not there', async () => {
    const url = await server({});
    await new Promise<void>((r) => wss!.close(() => r()));
    wss = undefined;
    expect(await probeBarCaches(url, 'MNQ', ['1s'], 1000, 20_000)).toBeUndefined();
  });
});
