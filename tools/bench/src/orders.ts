// Order round trips against the running engine, each from its own client process, one call at a time
// (latency, not throughput): gRPC PlaceOrder, its REST twin, a bare undici Order/place straight to the same
// simulator (what the engine adds is the difference at p50), and 100-order PlaceBatch wall time.
import type { ClientResult, OrderOutcome } from './client';
import { runClient } from './clients';
import type { EngineProcess } from './engine-process';
import { allNotMeasured, notMeasured, type Figures } from './figures';
import { scaleSummary, summarizeSamples, type LatencySummary } from './hdr';
import { pythonPlaceOrders } from './python';

export interface OrderBenchOptions {
  /** Workspace root (the Python client and its stub generator live there). */
  root: string;
  warmup: number;
  count: number;
  batchRuns: number;
  /** PlaceBatch calls before the timed ones. */
  batchWarmup: number;
  symbol: string;
}

/** The most common failure of a set of outcomes, as `code reason (n×)`. */
export function topFailure(outcomes: readonly OrderOutcome[]): string | undefined {
  const counts = new Map<string, number>();
  for (const o of outcomes) if (!o.ok) counts.set(`${o.code} ${o.reason}`.trim(), (counts.get(`${o.code} ${o.reason}`.trim()) ?? 0) + 1);
  let best: [string, number] | undefined;
  for (const e of counts) if (!best || e[1] > best[1]) best = e;
  return best ? `${best[0]} (${best[1]}×)` : undefined;
}

/**
 * Latency of the successful calls of a client run in ms, or the reason there is none. Failed calls (risk
 * denials, unimplemented rpcs) are excluded: they are not order round trips.
 */
export function okLatencyMs(r: ClientResult, what: string): LatencySummary | string {
  if (r.errors.length > 0 && r.samplesUs.length === 0) return `${what}: ${r.errors[0]}`;
  const ok = r.samplesUs.filter((_, i) => r.outcomes[i]?.ok);
  if (r.outcomes.length > 0 && ok.length < Math.max(1, r.outcomes.length / 2)) {
    return `${what}: ${r.outcomes.length - ok.length} of ${r.outcomes.length} calls failed, e.g. ${topFailure(r.outcomes) ?? 'unknown'}`;
  }
  if (ok.length === 0) return `${what}: no successful call`;
  return scaleSummary(summarizeSamples(ok, 'us'), 1000, 'ms');
}

const short = (e: unknown): string => (e instanceof Error ? e.message : String(e)).split('\n')[0]!.slice(0, 200);

export async function runOrderBenches(engine: EngineProcess, o: OrderBenchOptions, notes: string[]): Promise<Figures> {
  const f: Figures = {};
  const stamp = Date.now().toString(36);
  let grpc: LatencySummary | string;
  try {
    grpc = okLatencyMs(
      await runClient({ kind: 'grpc-roundtrip', address: engine.grpcAddress, warmup: o.warmup, count: o.count, strategy: `bench_rt_${stamp}`, symbol: o.symbol }),
      'gRPC PlaceOrder',
    );
  } catch (e) {
    grpc = `gRPC client: ${short(e)}`;
  }
  if (typeof grpc === 'string') Object.assign(f, allNotMeasured(['order_grpc_p50_ms', 'order_grpc_p99_ms', 'order_grpc_max_ms'], grpc));
  else Object.assign(f, { order_grpc_p50_ms: grpc.p50, order_grpc_p99_ms: grpc.p99, order_grpc_max_ms: grpc.max });

  // The floor under any RPC from the same client library: a health check answered from memory.
  let floor: LatencySummary | string;
  try {
    const r = await runClient({ kind: 'grpc-health', address: engine.grpcAddress, warmup: o.warmup, count: o.count });
    floor = r.samplesUs.length > 0 ? scaleSummary(summarizeSamples(r.samplesUs, 'us'), 1000, 'ms') : `health Check: ${r.errors[0] ?? 'no sample'}`;
  } catch (e) {
    floor = `gRPC client: ${short(e)}`;
  }
  if (typeof floor === 'string') Object.assign(f, allNotMeasured(['grpc_floor_p50_ms', 'grpc_floor_p99_ms'], floor));
  else Object.assign(f, { grpc_floor_p50_ms: floor.p50, grpc_floor_p99_ms: floor.p99 });

  const py = await pythonPlaceOrders({ root: o.root, grpcAddress: engine.grpcAddress, warmup: o.warmup, count: o.count, strategy: `bench_py_${stamp}`, symbol: o.symbol });
  if (typeof py === 'string') Object.assign(f, allNotMeasured(['order_grpc_python_p50_ms', 'order_grpc_python_p99_ms'], py));
  else Object.assign(f, { order_grpc_python_p50_ms: py.p50, order_grpc_python_p99_ms: py.p99 });

  let rest: LatencySummary | string;
  try {
    rest = okLatencyMs(
      await runClient({ kind: 'rest-roundtrip', httpUrl: engine.httpUrl, warmup: o.warmup, count: o.count, strategy: `bench_rest_${stamp}`, symbol: o.symbol }),
      'POST /api/go/orders/place',
    );
  } catch (e) {
    rest = `REST client: ${short(e)}`;
  }
  if (typeof rest === 'string') Object.assign(f, allNotMeasured(['order_rest_p50_ms', 'order_rest_p99_ms'], rest));
  else Object.assign(f, { order_rest_p50_ms: rest.p50, order_rest_p99_ms: rest.p99 });

  let bare: LatencySummary | string;
  try {
    bare = okLatencyMs(await runClient({ kind: 'bare-place', simUrl: engine.simUrl, warmup: o.warmup, count: o.count, root: o.symbol }), 'bare Order/place');
  } catch (e) {
    bare = `bare client: ${short(e)}`;
  }
  f['bare_place_p50_ms'] = typeof bare === 'string' ? notMeasured(bare) : bare.p50;
  if (typeof grpc !== 'string' && typeof bare !== 'string') {
    f['order_overhead_p50_ms'] = Math.round((grpc.p50 - bare.p50) * 1000) / 1000;
  } else {
    f['order_overhead_p50_ms'] = notMeasured(typeof grpc === 'string' ? 'needs the gRPC PlaceOrder figures' : (bare as string));
  }

  try {
    const r = await runClient(
      { kind: 'grpc-batch', address: engine.grpcAddress, warmup: o.batchWarmup, runs: o.batchRuns, size: 100, strategy: `bench_batch_${stamp}`, symbol: o.symbol },
      300_000,
    );
    if (r.samplesUs.length === 0) f['batch100_ms'] = notMeasured(`PlaceBatch: ${r.errors[0] ?? 'no run completed'}`);
    else {
      f['batch100_ms'] = scaleSummary(summarizeSamples(r.samplesUs, 'us'), 1000, 'ms').p50;
      if ((r.counters['failed'] ?? 0) > 0) notes.push(`PlaceBatch: ${r.counters['failed']} of ${(r.counters['failed'] ?? 0) + (r.counters['succeeded'] ?? 0)} orders failed inside the batches (e.g. ${r.errors[0]}); wall time still covers the whole batch.`);
    }
  } catch (e) {
    f['batch100_ms'] = notMeasured(`PlaceBatch client: ${short(e)}`);
  }
  notes.push(
    `Order round trips: ${o.count} market orders of 1 ${o.symbol} (alternating BUY/SELL) after ${o.warmup} warm-up calls, one at a time, each transport in turn from a client process of the harness's pool (its own connection per transport); HDR histogram of the successful calls (hrtime around the call), p50/p99/max. Bare: the same count of \`Order/place\` posted with undici (one keep-alive connection, login first) straight to the engine's simulator, account 1002; overhead p50 = gRPC p50 − bare p50. Floor: \`grpc.health.v1.Health/Check\` from the same grpc-js client, answered from memory on the engine's main thread (no thread hop, no broker): what any RPC costs on this machine before the order path starts. Python: the same orders through the shipped client (libs/python-client \`GatewayClient.place_order\`, grpcio) run by /usr/bin/python3, perf_counter_ns around each call. PlaceBatch: 100 orders per call, p50 wall time of ${o.batchRuns} runs after ${o.batchWarmup} warm-up run${o.batchWarmup === 1 ? '' : 's'}.`,
  );
  return f;
}
