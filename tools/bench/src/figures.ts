// The figures a bench run produces, and the rows of docs/PERFORMANCE.md that present them. A figure is a
// number from the run, or `notMeasured(reason)` when its server side is missing or the benchmark failed:
// the harness degrades row by row instead of crashing, so it can be re-run as the services land.

export interface NotMeasured {
  readonly notMeasured: string;
}
export type Figure = number | NotMeasured;
export type Figures = Record<string, Figure>;

export function notMeasured(reason: string): NotMeasured {
  return { notMeasured: reason };
}

export function isMeasured(f: Figure | undefined): f is number {
  return typeof f === 'number' && Number.isFinite(f);
}

/** Every key of `keys` set to the same not-measured reason (one failed benchmark yields several rows). */
export function allNotMeasured(keys: readonly string[], reason: string): Figures {
  return Object.fromEntries(keys.map((k) => [k, notMeasured(reason)]));
}

export interface Goal {
  readonly op: '<=' | '>=' | '==';
  readonly value: number;
}

export interface RowSpec {
  /** Figure key (also the --json key). */
  readonly key: string;
  readonly label: string;
  /** What the seed promised for this aspect, as text (`—` when it promised nothing). */
  readonly seed: string;
  /** Our goal; undefined = reported for information only. */
  readonly goal?: Goal;
  readonly unit: string;
  /** Decimals shown. */
  readonly digits: number;
}

export const ROWS: readonly RowSpec[] = [
  { key: 'order_grpc_p50_ms', label: 'PlaceOrder round trip, gRPC, p50', seed: '10–20 ms order execution', unit: 'ms', digits: 3 },
  { key: 'order_grpc_p99_ms', label: 'PlaceOrder round trip, gRPC, p99', seed: '10–20 ms order execution', goal: { op: '<=', value: 2 }, unit: 'ms', digits: 3 },
  { key: 'order_grpc_max_ms', label: 'PlaceOrder round trip, gRPC, max', seed: '—', unit: 'ms', digits: 3 },
  { key: 'order_grpc_python_p50_ms', label: 'PlaceOrder round trip, gRPC from the shipped Python client, p50', seed: '10–20 ms order execution', unit: 'ms', digits: 3 },
  { key: 'order_grpc_python_p99_ms', label: 'PlaceOrder round trip, gRPC from the shipped Python client, p99', seed: '10–20 ms order execution', unit: 'ms', digits: 3 },
  { key: 'grpc_floor_p50_ms', label: 'Floor: gRPC health Check round trip (same Node client, answered from memory), p50', seed: '—', unit: 'ms', digits: 3 },
  { key: 'grpc_floor_p99_ms', label: 'Floor: gRPC health Check round trip (same Node client, answered from memory), p99', seed: '—', unit: 'ms', digits: 3 },
  { key: 'order_rest_p50_ms', label: 'PlaceOrder round trip, REST twin, p50', seed: '10–20 ms order execution', unit: 'ms', digits: 3 },
  { key: 'order_rest_p99_ms', label: 'PlaceOrder round trip, REST twin, p99', seed: '10–20 ms order execution', unit: 'ms', digits: 3 },
  { key: 'bare_place_p50_ms', label: 'Bare undici Order/place to the simulator, p50', seed: '—', unit: 'ms', digits: 3 },
  { key: 'order_overhead_p50_ms', label: 'Engine overhead over bare Order/place, p50', seed: '—', goal: { op: '<=', value: 0.3 }, unit: 'ms', digits: 3 },
  { key: 'batch100_ms', label: 'PlaceBatch of 100 orders, wall time (p50 of runs)', seed: '—', goal: { op: '<=', value: 30 }, unit: 'ms', digits: 1 },
  { key: 'load_orders', label: 'Load: orders sent from 50 concurrent gRPC clients', seed: '100+ concurrent orders', unit: 'orders', digits: 0 },
  { key: 'load_lost', label: 'Load: orders lost (vs the simulator order list)', seed: '—', goal: { op: '==', value: 0 }, unit: 'orders', digits: 0 },
  { key: 'load_duplicated', label: 'Load: orders duplicated at the broker', seed: '—', goal: { op: '==', value: 0 }, unit: 'orders', digits: 0 },
  { key: 'load_p99_ms', label: 'Load: PlaceOrder p99 under 50 clients', seed: '10–20 ms order execution', unit: 'ms', digits: 3 },
  { key: 'risk_gate_p99_us', label: 'Risk gate check+release, in-process, p99', seed: '0.05–0.1 ms risk checks', goal: { op: '<=', value: 2 }, unit: 'µs', digits: 3 },
  { key: 'mark_to_pnl_p99_ms', label: 'Mark written → P&L from it published in shared memory, p99 (steady load)', seed: '—', unit: 'ms', digits: 1 },
  { key: 'bars_trades_per_sec', label: 'Bar aggregation, 6 timeframes + ATR/SMA/EMA, one thread', seed: '0.1–0.5 ms data parsing', goal: { op: '>=', value: 1_000_000 }, unit: 'trades/s', digits: 0 },
  { key: 'bars_oracle_ratio', label: 'Bar aggregation throughput vs technicalindicators', seed: '—', unit: '×', digits: 2 },
  { key: 'tick_to_subscriber_p50_ms', label: 'Trade → WebSocket subscriber, received, p50 (HDR, 100 subs, 10k trades/s)', seed: '—', unit: 'ms', digits: 3 },
  { key: 'tick_to_subscriber_p99_ms', label: 'Trade → WebSocket subscriber, received, p99 (HDR, 100 subs, 10k trades/s)', seed: '—', goal: { op: '<=', value: 1 }, unit: 'ms', digits: 3 },
  { key: 'tick_to_subscriber_max_ms', label: 'Trade → WebSocket subscriber, received, max', seed: '—', unit: 'ms', digits: 3 },
  { key: 'tick_to_subscriber_engine_p99_ms', label: 'Trade → bar update written to the sockets, engine histogram, p99 (bucket bound)', seed: '—', unit: 'ms', digits: 3 },
  { key: 'subscriber_kb_each', label: 'Memory per connected subscriber (1,000 connected)', seed: '—', unit: 'KB', digits: 1 },
  { key: 'engine_idle_rss_mb', label: 'Engine RSS, idle after warm-up', seed: '< 100 MB memory', goal: { op: '<=', value: 100 }, unit: 'MB', digits: 1 },
  { key: 'engine_idle_settled_rss_mb', label: 'Engine RSS, idle 30 s after the order runs (V8 has released memory)', seed: '—', unit: 'MB', digits: 1 },
  { key: 'engine_load_rss_mb', label: 'Engine RSS, steady load (max)', seed: '< 100 MB memory', goal: { op: '<=', value: 150 }, unit: 'MB', digits: 1 },
  { key: 'engine_cpu_pct', label: 'Engine CPU at steady load (share of one core)', seed: '< 30 % CPU', goal: { op: '<=', value: 30 }, unit: '%', digits: 1 },
];

/** The keys --json must always carry (issue 8). */
export const REQUIRED_JSON_KEYS = [
  'order_grpc_p50_ms',
  'order_grpc_p99_ms',
  'order_rest_p99_ms',
  'order_overhead_p50_ms',
  'batch100_ms',
  'risk_gate_p99_us',
  'bars_trades_per_sec',
  'tick_to_subscriber_p99_ms',
  'engine_idle_rss_mb',
  'engine_load_rss_mb',
  'engine_cpu_pct',
] as const;

export function meetsGoal(goal: Goal, value: number): boolean {
  if (goal.op === '<=') return value <= goal.value;
  if (goal.op === '>=') return value >= goal.value;
  return value === goal.value;
}

/**
 * The --json object: every figure as a number, or null with its reason under `not_measured`. Required keys
 * are always present (null when the run did not produce them).
 */
export function figuresToJson(figures: Figures, extra: Record<string, unknown> = {}): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const reasons: Record<string, string> = {};
  for (const k of REQUIRED_JSON_KEYS) if (!(k in figures)) reasons[k] = 'not run (excluded by --only)';
  for (const k of REQUIRED_JSON_KEYS) out[k] = null;
  for (const [k, f] of Object.entries(figures)) {
    if (isMeasured(f)) out[k] = f;
    else {
      out[k] = null;
      reasons[k] = typeof f === 'number' ? 'not a finite number' : f.notMeasured;
    }
  }
  return { ...out, not_measured: reasons, ...extra };
}
