import { describe, expect, it } from 'vitest';
import { RISK_BATCH, runRiskGateBench } from './risk';

// Wiring only: every timed call goes through the allowed path; no timing is asserted.
describe('runRiskGateBench', () => {
  it('times allowed check+release calls in batches', () => {
    const r = runRiskGateBench({ samples: 5, warmupSamples: 1 });
    expect(r.calls).toBe(5 * RISK_BATCH);
    expect(r.allowed).toBe(r.calls);
    expect(r.perCallNs.count).toBe(5);
    expect(r.perCallNs.unit).toBe('ns');
    expect(r.perCallNs.p50).toBeGreaterThan(0);
  });

  it('rejects a bad sample count', () => {
    expect(() => runRiskGateBench({ samples: 0 })).toThrow(/samples/);
  });
});
