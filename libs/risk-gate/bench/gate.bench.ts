// In-process latency of RiskGate.check (+ release of an allowed order) on one thread: p50 / p99 / max over
// 200,000 calls after a warm-up, for an entry that passes and one denied MAX_POSITION, and the executor's path:
// an allowed entry with a reservation-ledger hold (the main thread's arm + settle of the entry included).
// Run: node libs/risk-gate/bench/run.mjs
import { Side, allocateLedger, attachLedger } from '@gateway/shared-state';
import { RiskGate } from '../src/index';
import { fixture, IN_SESSION_MS } from '../test/support';

const f = fixture();
f.publish({ maxOrdersPerMinute: 0, maxOpenOrders: 1_000_000 });
const ledger = attachLedger(allocateLedger(4));
const gate = new RiskGate(f.state, { clock: () => IN_SESSION_MS, ledger });
const N = 200_000;
const samples = new Float64Array(N);

function once(size: number, withHold: boolean): void {
  const hold = withHold ? ledger.arm()! : undefined;
  const r = gate.check({ accountSlot: f.acct, contractSlot: f.es, side: Side.BUY, size }, hold);
  if (hold) ledger.settle(hold);
  if (r.allowed) gate.release(r.reservation);
}

function run(label: string, size: number, withHold = false): void {
  for (let i = 0; i < 50_000; i++) once(size, withHold);
  for (let i = 0; i < N; i++) {
    const t0 = process.hrtime.bigint();
    once(size, withHold);
    samples[i] = Number(process.hrtime.bigint() - t0);
  }
  const s = Array.from(samples).sort((a, b) => a - b);
  const q = (p: number): string => (s[Math.min(N - 1, Math.floor(p * N))]! / 1000).toFixed(2);
  console.log(`${label}: p50 ${q(0.5)} µs, p99 ${q(0.99)} µs, p99.9 ${q(0.999)} µs, max ${(s[N - 1]! / 1000).toFixed(2)} µs (incl. hrtime)`);
}

run('allowed entry (check + release)', 1);
run('denied MAX_POSITION', 6);
run('allowed entry with a ledger hold (arm + check + settle + release)', 1, true);
