// Risk gate micro-benchmark, in-process: a real allocated SharedState, one ready ACTIVE account, one micro
// contract, and RiskGate.check() + release() of an entry order per call (the full pre-trade path: account
// and position seqlock reads, stale flag, decide(), the atomic size and open-order claims, then the
// release the main thread does). A single call takes well under a microsecond, below what hrtime resolves
// reliably, so each sample times a batch of BATCH calls with process.hrtime.bigint() and records the
// per-call average in ns: p50/p99/max are percentiles of those batch averages, not of single calls.
import { RiskGate } from '@gateway/risk-gate';
import { AccountState, allocateSharedState, attachSharedState, newAccountRecord, Side } from '@gateway/shared-state';
import { createHistogram, summarize, type LatencySummary } from './hdr';

export const RISK_BATCH = 1000;

export interface RiskBenchResult {
  /** Per-call ns, from batch averages. */
  perCallNs: LatencySummary;
  calls: number;
  allowed: number;
}

/** Tuesday 2026-07-14 10:00 CDT: inside trading hours, so the gate's hours check passes. */
const FIXED_NOW = Date.parse('2026-07-14T15:00:00Z');

export function runRiskGateBench(opts: { samples: number; warmupSamples?: number }): RiskBenchResult {
  if (!Number.isSafeInteger(opts.samples) || opts.samples < 1) throw new RangeError(`samples: expected a positive integer, got ${opts.samples}`);
  const state = attachSharedState(allocateSharedState());
  const contractSlot = state.directory.register({ contractId: 'CON.F.US.MNQ.Z26', tickSize: 250_000_000, tickValue: 5_000, weight: 1 });
  const accountSlot = state.accounts.registerAccount(1001);
  const acc = newAccountRecord();
  acc.accountId = 1001;
  acc.state = AccountState.ACTIVE;
  acc.balance = 50_000 * 10_000;
  acc.startOfDayBalance = acc.balance;
  acc.dllLimit = 1_000 * 10_000;
  acc.mllFloor = 48_000 * 10_000;
  acc.headroom = 1_000 * 10_000;
  acc.maxPositionUnits = 50;
  acc.maxOpenOrders = 20;
  // 0 = order-rate limit off: every call is allowed, so every sample times the same (longest) path.
  acc.maxOrdersPerMinute = 0;
  acc.tradingDayId = 20260714;
  acc.updatedMs = FIXED_NOW;
  state.accounts.writeAccount(accountSlot, acc);
  state.accounts.setReady(accountSlot, true);
  // Contracts start stale until market-data publishes a mark: publish one so entries are judged on limits.
  state.marks.writeTrade(contractSlot, 21_000 * 1_000_000_000, FIXED_NOW, FIXED_NOW);
  state.marks.setStale(contractSlot, false);
  const gate = new RiskGate(state, { clock: () => FIXED_NOW });
  const order = { accountSlot, contractSlot, side: Side.BUY, size: 1 } as const;

  let allowed = 0;
  const batch = (): bigint => {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < RISK_BATCH; i++) {
      const r = gate.check(order);
      if (r.allowed) {
        allowed++;
        gate.release(r.reservation);
      }
    }
    return process.hrtime.bigint() - t0;
  };
  for (let s = 0; s < (opts.warmupSamples ?? 200); s++) batch();
  allowed = 0;
  const h = createHistogram();
  for (let s = 0; s < opts.samples; s++) h.recordValue(Math.max(1, Math.round(Number(batch()) / RISK_BATCH)));
  const calls = opts.samples * RISK_BATCH;
  if (allowed !== calls) throw new Error(`risk gate: ${calls - allowed} of ${calls} calls denied; the benchmark account is misconfigured`);
  return { perCallNs: summarize(h, 'ns'), calls, allowed };
}
