import { mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { newestInputMtime, parseArgs, reportTarget } from './main';
import { findTradeToSendHistogram, histogramBuckets, quantileFromDelta } from './market';
import { READY, metricValue } from './engine-process';

describe('bench arguments', () => {
  it('parses the flags', () => {
    expect(parseArgs([])).toEqual({ quick: false, json: false, soak: false, soakMinutes: 10, soakWarmupMinutes: 25, only: undefined });
    expect(parseArgs(['--quick', '--json', '--only', 'risk,bars'])).toMatchObject({ quick: true, json: true, only: ['risk', 'bars'] });
    expect(parseArgs(['--soak', '--soak-minutes', '2'])).toMatchObject({ soak: true, soakMinutes: 2 });
    expect(parseArgs(['--soak', '--soak-warmup-minutes', '0'])).toMatchObject({ soak: true, soakWarmupMinutes: 0 });
  });

  it('names the bad flag', () => {
    expect(() => parseArgs(['--fast'])).toThrow(/--fast/);
    expect(() => parseArgs(['--only', 'nope'])).toThrow(/--only: unknown benchmark "nope"/);
    expect(() => parseArgs(['--soak-minutes', '-1'])).toThrow(/--soak-minutes/);
    expect(() => parseArgs(['--soak-warmup-minutes', 'x'])).toThrow(/--soak-warmup-minutes/);
  });
});

describe('what a run writes to docs/PERFORMANCE.md', () => {
  it('the report after a full run only, the soak section after a soak, nothing after a quick or partial run', () => {
    expect(reportTarget(parseArgs([]))).toBe('report');
    expect(reportTarget(parseArgs(['--json']))).toBe('report');
    expect(reportTarget(parseArgs(['--quick']))).toBe('none');
    expect(reportTarget(parseArgs(['--quick', '--json']))).toBe('none');
    expect(reportTarget(parseArgs(['--only', 'steady']))).toBe('none');
    expect(reportTarget(parseArgs(['--soak']))).toBe('soak-section');
    expect(reportTarget(parseArgs(['--soak', '--only', 'soak']))).toBe('none');
  });
});

describe('engine bundle freshness', () => {
  it('takes the newest source or config, not tests, dependencies or build output', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'bench-mtime-'));
    try {
      const file = (rel: string, sec: number): void => {
        mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
        writeFileSync(path.join(dir, rel), '');
        utimesSync(path.join(dir, rel), sec, sec);
      };
      file('app/src/main.ts', 1000);
      file('app/project.json', 1500);
      file('lib/src/deep/x.ts', 2000);
      file('app/src/main.spec.ts', 9000);
      file('app/test/helper.ts', 9000);
      file('app/node_modules/p/index.js', 9000);
      file('app/test-output/vitest.json', 9000);
      file('app/README.md', 9000);
      expect(newestInputMtime(dir)).toBe(2_000_000);
      file('lib/src/deep/x.ts', 3000);
      expect(newestInputMtime(dir)).toBe(3_000_000);
      expect(newestInputMtime(path.join(dir, 'missing'))).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('metrics scraping', () => {
  const text = (counts: number[]): string =>
    [
      '# HELP market_data_trade_to_send_seconds x',
      '# TYPE market_data_trade_to_send_seconds histogram',
      ...[0.0005, 0.001, 0.0025].map((le, i) => `market_data_trade_to_send_seconds_bucket{le="${le}",app="market-data"} ${counts[i]}`),
      `market_data_trade_to_send_seconds_bucket{le="+Inf",app="market-data"} ${counts[3]}`,
      'nodejs_eventloop_lag_p99_seconds{app="engine"} 0.0123',
      'nodejs_eventloop_lag_p99_seconds{app="market-data"} 0.5',
    ].join('\n');

  it('finds the trade → send histogram and the p99 bucket of the observations between two scrapes', () => {
    const before = text([10, 10, 10, 10]);
    const after = text([10 + 900, 10 + 985, 10 + 1000, 10 + 1000]);
    const name = findTradeToSendHistogram(after)!;
    expect(name).toBe('market_data_trade_to_send_seconds');
    expect(quantileFromDelta(histogramBuckets(before, name), histogramBuckets(after, name), 0.99)).toEqual({ bound: 0.0025, count: 1000 });
    expect(quantileFromDelta(histogramBuckets(before, name), histogramBuckets(after, name), 0.5)).toEqual({ bound: 0.0005, count: 1000 });
    expect(quantileFromDelta(histogramBuckets(before, name), histogramBuckets(before, name), 0.99)).toBeUndefined();
  });

  it('uses the later scrape alone when the thread restarted between the scrapes', () => {
    const name = 'market_data_trade_to_send_seconds';
    const q = quantileFromDelta(histogramBuckets(text([500, 500, 500, 500]), name), histogramBuckets(text([0, 10, 10, 10]), name), 0.99);
    expect(q).toEqual({ bound: 0.001, count: 10 });
  });

  it('reads one gauge by label', () => {
    expect(metricValue(text([0, 0, 0, 0]), 'nodejs_eventloop_lag_p99_seconds', { app: 'engine' })).toBe(0.0123);
    expect(metricValue(text([0, 0, 0, 0]), 'nodejs_eventloop_lag_p99_seconds', { app: 'nope' })).toBeUndefined();
  });
});

describe('engine ready line', () => {
  it('parses ports and the simulator URL, with or without the market-data ws part', () => {
    const withWs = READY.exec('engine ready: grpc 127.0.0.1:5001 · http 127.0.0.1:8001 · market-data ws 127.0.0.1:8002 · broker embedded simulator http://127.0.0.1:9000')!;
    expect([withWs[1], withWs[2], withWs[3], withWs[4], withWs[5], withWs[6], withWs[7]]).toEqual(['127.0.0.1', '5001', '127.0.0.1', '8001', '127.0.0.1', '8002', 'http://127.0.0.1:9000']);
    const without = READY.exec('engine ready: grpc 127.0.0.1:5001 · http 127.0.0.1:8001 · broker embedded simulator http://127.0.0.1:9000')!;
    expect([without[5], without[7]]).toEqual([undefined, 'http://127.0.0.1:9000']);
  });
});
