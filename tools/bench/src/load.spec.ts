import { describe, expect, it } from 'vitest';
import type { OrderOutcome } from './client';
import { checkAgainstSimulator } from './load';
import { okLatencyMs, topFailure } from './orders';

const ok = (id: number, tag: string): OrderOutcome => ({ ok: true, code: 0, reason: '', brokerOrderId: id, customTag: tag });
const tag = (n: number): string => `TradingBot-v1.0-strategy-bench_load_x-MARKET-${n}-1764000000`;

describe('load check against the simulator order list', () => {
  it('finds nothing wrong when every placed order is there once', () => {
    const outcomes = [ok(1, tag(1)), ok(2, tag(2)), { ok: false, code: 9, reason: 'MAX_POSITION', brokerOrderId: 0, customTag: '' }];
    const sim = [
      { id: 1, customTag: tag(1) },
      { id: 2, customTag: tag(2) },
      { id: 3, customTag: 'TradingBot-v1.0-strategy-other-MARKET-1-1764000000' },
    ];
    expect(checkAgainstSimulator(outcomes, sim, 'bench_load_x')).toEqual({ lost: 0, duplicated: 0, orphans: 0 });
  });

  it('counts lost, duplicated and orphan orders', () => {
    const outcomes = [ok(1, tag(1)), ok(2, tag(2)), ok(2, tag(2)), ok(9, tag(9))];
    const sim = [
      { id: 1, customTag: tag(1) },
      { id: 2, customTag: tag(2) },
      { id: 4, customTag: tag(2) },
      { id: 5, customTag: tag(5) },
    ];
    // 9 is missing (lost); tag 2 twice at the broker and broker id 2 answered twice (2 duplicates);
    // 4 and 5 have no successful answer (orphans).
    expect(checkAgainstSimulator(outcomes, sim, 'bench_load_x')).toEqual({ lost: 1, duplicated: 2, orphans: 2 });
  });
});

describe('order outcome helpers', () => {
  it('names the most common failure', () => {
    const f = (reason: string): OrderOutcome => ({ ok: false, code: 9, reason, brokerOrderId: 0, customTag: '' });
    expect(topFailure([f('A'), f('B'), f('B'), ok(1, 'x')])).toBe('9 B (2×)');
    expect(topFailure([ok(1, 'x')])).toBeUndefined();
  });

  it('summarises only successful calls, and refuses when most calls failed', () => {
    const outcomes = [ok(1, 'a'), ok(2, 'b'), ok(3, 'c'), { ok: false, code: 9, reason: 'X', brokerOrderId: 0, customTag: '' }];
    const s = okLatencyMs({ samplesUs: [1000, 2000, 3000, 9_000_000], outcomes, counters: {}, errors: [] }, 'x');
    expect(s).toMatchObject({ count: 3, p50: 2, max: 3, unit: 'ms' });
    const fail: OrderOutcome = { ok: false, code: 9, reason: 'X', brokerOrderId: 0, customTag: '' };
    const bad = okLatencyMs({ samplesUs: [1, 2, 3], outcomes: [fail, fail, ok(1, 'a')], counters: {}, errors: [] }, 'gRPC');
    expect(bad).toBe('gRPC: 2 of 3 calls failed, e.g. 9 X (2×)');
  });
});
