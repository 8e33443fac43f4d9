import { describe, expect, it } from 'vitest';
import { FrameLog, FrameTracker, readHubRecords, RecordSplitter, TradeIndex, tallyLatencies, type FrameRecord, type TradeBatch } from './tick-latency';

const C = 'CON.F.US.MNQ.Z26';
const iso = (ms: number): string => new Date(ms).toISOString();
const trade = (ms: number, volume: number): string => `{"symbolId":"F.US.MNQ","price":21000.25,"timestamp":"${iso(ms)}","type":0,"volume":${volume}}`;
const bar = (t: number, n: number, v: number, extra = ''): string =>
  `{"type":"bar","symbol":"MNQ","contractId":"${C}","timeframe":"1s","seq":1,"closed":false,"t":${t},"end":${t + 1000},"o":1,"h":1,"l":1,"c":1,"v":${v},"n":${n},"atr":null,"sma":null,"ema":null${extra}}`;

describe('hub records', () => {
  it('keeps an unterminated record for the next message', () => {
    const s = new RecordSplitter();
    expect(s.push('{}\x1e{"type":6}\x1e{"type"')).toEqual(['{}', '{"type":6}']);
    expect(s.push(':6}\x1e')).toEqual(['{"type":6}']);
  });

  it('reads trade batches (array with null entries, or one trade) as runs of one timestamp, pings, handshake and close', () => {
    const t0 = Date.UTC(2026, 10, 25, 14, 0, 0, 999);
    const h = readHubRecords([
      '{}',
      `{"type":1,"target":"GatewayTrade","arguments":["${C}",[null,${trade(t0, 1)},${trade(t0, 2)},${trade(t0 + 1, 3)}]]}`,
      `{"type":1,"target":"GatewayTrade","arguments":["${C}",${trade(t0 + 2, 4)}]}`,
      '{"type":1,"target":"GatewayQuote","arguments":["x",{}]}',
      '{"type":6}',
      '{"type":3,"invocationId":"1"}',
      '{"type":3,"invocationId":"2","error":"Failed to invoke"}',
      'not json',
    ]);
    expect(h.completions).toEqual([{ id: '1' }, { id: '2', error: 'Failed to invoke' }]);
    expect(h.handshake).toBe(true);
    expect(h.ping).toBe(true);
    expect(h.close).toBeUndefined();
    expect(h.batches).toEqual([
      { contractId: C, runs: [[t0, 2, 3], [t0 + 1, 1, 3]] },
      { contractId: C, runs: [[t0 + 2, 1, 4]] },
    ]);
    expect(readHubRecords(['{"type":7,"error":"Server timeout"}']).close).toBe('Server timeout');
    expect(readHubRecords(['{"error":"Requested protocol is not available."}'])).toMatchObject({ handshake: false, close: 'Requested protocol is not available.' });
  });
});

describe('FrameTracker', () => {
  it('takes the subscription frame as the baseline, then records frames that fold in new trades', () => {
    const f = new FrameTracker();
    expect(f.onFrame(bar(1000, 3, 5), 1)).toBeUndefined();
    expect(f.onFrame(bar(1000, 5, 9), 2)).toEqual({ contractId: C, t: 1000, end: 2000, n: 5, v: 9, prevN: 3, receivedUs: 2 });
    // re-sent open bar without trades, a closed bar of an older bucket, a pong: nothing new
    expect(f.onFrame(bar(1000, 5, 9), 3)).toBeUndefined();
    expect(f.onFrame('{"type":"pong"}', 4)).toBeUndefined();
    expect(f.onFrame(bar(2000, 2, 2), 5)).toMatchObject({ t: 2000, n: 2, prevN: 0 });
    expect(f.onFrame(bar(1000, 9, 20), 6)).toBeUndefined();
    expect(f.onFrame(bar(2000, 4, 6), 7)).toMatchObject({ n: 4, prevN: 2 });
  });

  it('keeps one baseline per topic', () => {
    const f = new FrameTracker();
    expect(f.onFrame(bar(1000, 1, 1), 1)).toBeUndefined();
    expect(f.onFrame(bar(1000, 1, 1).replace('"1s"', '"1m"'), 2)).toBeUndefined();
    expect(f.onFrame(bar(1000, 2, 2).replace('"1s"', '"1m"'), 3)).toMatchObject({ prevN: 1 });
  });
});

describe('FrameLog', () => {
  it('gives back the records pushed, in order, across its growth', () => {
    const log = new FrameLog();
    const recs: FrameRecord[] = Array.from({ length: 5000 }, (_, i) => ({ contractId: i % 3 === 0 ? C : 'CON.F.US.EP.Z26', t: 1000 * i, end: 1000 * i + 1000, n: i + 1, v: 2 * i + 1, prevN: i, receivedUs: 1e9 + i / 8 }));
    for (const r of recs) log.push(r);
    expect(log.length).toBe(5000);
    expect([...log.records()]).toEqual(recs);
  });
});

describe('TradeIndex', () => {
  // Watcher: batch at 100 µs with bucket-0 trades (900 ms, 950 ms), batch at 200 µs spanning buckets 0 and 1,
  // batch at 300 µs in bucket 1. Buckets of 1 s from 1000: [1000, 2000), [2000, 3000).
  const batches: TradeBatch[] = [
    { c: C, a: 50, r: [[900, 1, 1]] },
    { c: C, a: 100, r: [[1500, 2, 3]] },
    { c: C, a: 200, r: [[1900, 1, 2], [2000, 2, 2]] },
    { c: C, a: 300, r: [[2100, 1, 5]] },
  ];
  const idx = new TradeIndex(batches);
  const rec = (t: number, n: number, v: number, prevN: number, receivedUs: number): FrameRecord => ({ contractId: C, t, end: t + 1000, n, v, prevN, receivedUs });

  it('measures from the arrival of the oldest trade the frame newly carries', () => {
    expect(idx.match(rec(1000, 2, 3, 0, 180))).toEqual({ latencyUs: 80 });
    // two batches coalesced into one frame: the older one counts
    expect(idx.match(rec(1000, 3, 5, 0, 260))).toEqual({ latencyUs: 160 });
    expect(idx.match(rec(1000, 3, 5, 2, 260))).toEqual({ latencyUs: 60 });
    // a batch spanning two buckets feeds the next bucket's first frame
    expect(idx.match(rec(2000, 2, 2, 0, 250))).toEqual({ latencyUs: 50 });
    expect(idx.match(rec(2000, 3, 7, 2, 390))).toEqual({ latencyUs: 90 });
  });

  it('refuses a frame whose count or volume ends no batch, or that the watcher did not see whole', () => {
    expect(idx.match(rec(1000, 1, 1, 0, 150))).toEqual({ unmatched: 'mismatch' });
    expect(idx.match(rec(1000, 2, 4, 0, 150))).toEqual({ unmatched: 'mismatch' });
    expect(idx.match(rec(2000, 9, 9, 0, 150))).toEqual({ unmatched: 'uncovered' });
    expect(idx.match(rec(0, 1, 1, 0, 150))).toEqual({ unmatched: 'uncovered' });
    expect(idx.match({ ...rec(1000, 2, 3, 0, 150), contractId: 'other' })).toEqual({ unmatched: 'uncovered' });
  });

  it('tallies the frames of the window only, keeping an early receipt as 0', () => {
    const frames = [rec(1000, 2, 3, 0, 180), rec(1000, 3, 5, 2, 190), rec(1000, 3, 5, 2, 150), rec(1000, 1, 1, 0, 170), rec(2000, 3, 7, 2, 5000)];
    expect(tallyLatencies(frames, batches, 160, 1000)).toEqual({ samplesUs: [80, 0], matched: 2, uncovered: 0, mismatch: 1, early: 1 });
  });
});
