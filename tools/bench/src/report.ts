// docs/PERFORMANCE.md, rendered from one run's figures (never hand-edited: `npm run bench` rewrites it).
// The soak section sits between markers so a run without --soak keeps the previous soak's section.
import { ENGINE_NODE_FLAGS } from './engine-process';
import { ROWS, isMeasured, meetsGoal, type Figures, type Goal, type RowSpec } from './figures';

export interface MachineInfo {
  cpuModel: string;
  cores: number;
  ramGb: number;
  node: string;
  os: string;
  /** 1-minute load average at the start and the end of the run (a busy machine skews every figure). */
  loadAvg?: [number, number];
}

export interface SoakSample {
  /** Seconds since the soak started. */
  tSec: number;
  rssMb: number;
  /** The anonymous part of rssMb (V8 heaps, malloc arenas, thread stacks); the rest is file-backed (the node binary). */
  rssAnonMb?: number;
  /** V8 heap committed by all threads together (nodejs_heap_size_total_bytes summed), MB. */
  heapCommittedMb?: number;
  /** Memory outside the V8 heaps that V8 knows of (nodejs_external_memory_bytes summed: buffers, sockets), MB. */
  externalMb?: number;
  /** Engine main-thread event-loop delay p99 over the last interval (from its /metrics), ms; NaN if unknown. */
  eldP99Ms: number;
  cpuPct: number;
  /** V8 heap in use per thread (nodejs_heap_size_used_bytes by app label), MB; absent threads are missing. */
  heapMb?: Record<string, number>;
}

/** The engine's threads by their metrics label, in table order. */
export const SOAK_HEAP_APPS = ['engine', 'market-data', 'risk-manager', 'order-executor'] as const;

/** What the soak's warm-up did before the measured window (soak.ts warmUp). */
export interface SoakWarmup {
  /** Length of the warm-up, s (the measured window starts at its end). */
  sec: number;
  ordersSent: number;
  ordersPlaced: number;
  channels: number;
  burstSec: number;
  burstError?: string;
  /** The bounded per-order structures the burst must exceed, by name → cap. */
  caps: Record<string, number>;
  barCacheSize: number;
  /** Bars held per timeframe for the probed contract at the start and the end of the warm-up. */
  barsAtStart?: Record<string, number>;
  barsAtEnd?: Record<string, number>;
  /** Every cap exceeded and the 1 s cache full when the window started. */
  steady: boolean;
}

export interface SoakResult {
  /** The measured window, s (after the warm-up). */
  durationSec: number;
  /** Seconds from the soak's start to the end of the warm-up: samples before it are not in the verdict. */
  warmupSec: number;
  warmup?: SoakWarmup;
  tradesPerSec: number;
  subscribers: number;
  ordersPerSec: number;
  samples: SoakSample[];
  /** Least-squares RSS slope after warm-up, MB per minute. */
  rssSlopeMbPerMin: number;
  /** RSS growth over the post-warm-up window predicted by the slope, MB. */
  rssGrowthMb: number;
  flat: boolean;
  /** Slopes after warm-up of the parts of RSS, MB per minute: where a growth is. */
  partSlopesMbPerMin?: { anon?: number; heapCommitted?: number; external?: number };
  /** RSS slope over the last third of the window, MB per minute: a cache that fills early flattens here. */
  lastThirdSlopeMbPerMin?: number;
  /** RSS [low, high] in the first and the second half of the window, MB: the sawtooth's envelope. */
  rssHalvesMb?: { first: [number, number]; second: [number, number] };
  /** V8 heap in use per thread over the window, MB per minute (least squares, garbage included). */
  heapSlopesMbPerMin?: Record<string, number>;
}

export interface ReportInput {
  machine: MachineInfo;
  date: Date;
  mode: 'quick' | 'full' | 'soak';
  figures: Figures;
  /** Free-text notes on how rows were measured (one bullet each). */
  notes: readonly string[];
  soak?: SoakResult;
}

export const SOAK_START = '<!-- soak:start -->';
export const SOAK_END = '<!-- soak:end -->';

function fmt(v: number, digits: number): string {
  return v.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

function goalText(g: Goal | undefined, row: RowSpec): string {
  if (!g) return '—';
  const op = g.op === '<=' ? '≤' : g.op === '>=' ? '≥' : '=';
  return `${op} ${fmt(g.value, g.value % 1 === 0 ? 0 : 1)} ${row.unit}`;
}

export function renderTable(figures: Figures): string {
  const lines = ['| Row | Seed target | Our goal | Measured | Result |', '|---|---|---|---|---|'];
  for (const row of ROWS) {
    const f = figures[row.key];
    if (f === undefined) continue;
    let measured: string;
    let result: string;
    if (isMeasured(f)) {
      measured = `${fmt(f, row.digits)} ${row.unit}`;
      result = row.goal ? (meetsGoal(row.goal, f) ? 'pass' : '**FAIL**') : 'info';
    } else {
      measured = `not measured: ${typeof f === 'number' ? 'not a finite number' : f.notMeasured}`.replaceAll('|', '/');
      result = '—';
    }
    lines.push(`| ${row.label} | ${row.seed} | ${goalText(row.goal, row)} | ${measured} | ${result} |`);
  }
  return lines.join('\n');
}

/** An ASCII plot of RSS over time: one column per sample (resampled to at most `width`), `height` rows. */
export function asciiPlot(samples: readonly SoakSample[], width = 60, height = 10): string {
  if (samples.length === 0) return '(no samples)';
  const step = Math.max(1, Math.ceil(samples.length / width));
  const cols: number[] = [];
  for (let i = 0; i < samples.length; i += step) cols.push(samples[i]!.rssMb);
  const lo = Math.min(...cols);
  const hi = Math.max(...cols);
  const span = hi - lo || 1;
  const rows: string[] = [];
  for (let r = height - 1; r >= 0; r--) {
    const level = lo + (span * r) / (height - 1);
    const label = fmt(level, 1).padStart(7);
    rows.push(`${label} MB |${cols.map((v) => (Math.round(((v - lo) / span) * (height - 1)) === r ? '*' : ' ')).join('')}`);
  }
  const last = samples[samples.length - 1]!.tSec;
  rows.push(`${' '.repeat(11)}+${'-'.repeat(cols.length)}`);
  rows.push(`${' '.repeat(12)}0 s${' '.repeat(Math.max(1, cols.length - 3 - String(Math.round(last)).length - 2))}${Math.round(last)} s`);
  return rows.join('\n');
}

export function renderSoak(s: SoakResult, date: Date): string {
  const lines = [
    SOAK_START,
    '## Soak',
    '',
    `Run ${date.toISOString()}: a measured window of ${fmt(s.durationSec / 60, s.durationSec % 60 === 0 ? 0 : 1)} min at ${fmt(s.tradesPerSec, 0)} trades/s, ${s.subscribers} WebSocket subscribers, ${s.ordersPerSec} orders/s, after ${fmt(s.warmupSec, 0)} s of warm-up under the same load.`,
    '',
    ...warmupLines(s),
    `RSS slope after warm-up: ${fmt(s.rssSlopeMbPerMin, 3)} MB/min (${fmt(s.rssGrowthMb, 1)} MB over the window) → **${s.flat ? 'flat' : 'GROWING'}** (flat = growth under 5 MB over the window).`,
    '',
    '```',
    asciiPlot(s.samples),
    '```',
    `(The plot spans the warm-up too: the window starts at ${fmt(s.warmupSec, 0)} s.)`,
    '',
    ...soakTrendLines(s),
    'V8 heap in use is sampled from /metrics without forcing a collection, so it includes garbage not yet collected: a thread whose',
    'figure keeps rising across major collections is the one to look at.',
    '',
    'Memory columns: RSS = anonymous + file-backed (the node binary, about 55 MB); V8 committed and external are summed over',
    'the four threads (nodejs_heap_size_total_bytes, nodejs_external_memory_bytes).',
    '',
    `| t (s) | RSS (MB) | of it anonymous (MB) | V8 committed (MB) | external (MB) | event-loop delay p99 (ms) | CPU (% of a core) | V8 heap used, MB (${SOAK_HEAP_APPS.join(' · ')}) |`,
    '|---|---|---|---|---|---|---|---|',
  ];
  const step = Math.max(1, Math.ceil(s.samples.length / 20));
  for (let i = 0; i < s.samples.length; i += step) {
    const x = s.samples[i]!;
    const heap = SOAK_HEAP_APPS.map((a) => (x.heapMb?.[a] !== undefined ? fmt(x.heapMb[a]!, 1) : '—')).join(' · ');
    const opt = (v: number | undefined): string => (v === undefined ? '—' : fmt(v, 1));
    lines.push(`| ${fmt(x.tSec, 0)} | ${fmt(x.rssMb, 1)} | ${opt(x.rssAnonMb)} | ${opt(x.heapCommittedMb)} | ${opt(x.externalMb)} | ${Number.isFinite(x.eldP99Ms) ? fmt(x.eldP99Ms, 2) : '—'} | ${fmt(x.cpuPct, 1)} | ${heap} |`);
  }
  lines.push(SOAK_END);
  return lines.join('\n');
}

const UNIT_SEC: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86_400 };

/** Seconds of a timeframe name (`1s`, `15m`, `1h`, `1d`); undefined for a name of another shape. */
export function timeframeSec(tf: string): number | undefined {
  const m = /^(\d+)([smhd])$/.exec(tf);
  return m ? Number(m[1]) * UNIT_SEC[m[2]!]! : undefined;
}

/** Bar caches below capacity and the most bars each can add over a window of `windowSec` (one per bucket). */
export function slowCaches(barsHeld: Record<string, number> | undefined, capacity: number, windowSec: number): { timeframe: string; bars: number; maxNew: number }[] {
  const out: { timeframe: string; bars: number; maxNew: number }[] = [];
  for (const [timeframe, bars] of Object.entries(barsHeld ?? {})) {
    if (bars >= capacity) continue;
    const sec = timeframeSec(timeframe);
    out.push({ timeframe, bars, maxNew: sec === undefined ? capacity - bars : Math.min(capacity - bars, Math.ceil(windowSec / sec) + 1) });
  }
  return out;
}

const bars = (b: Record<string, number> | undefined): string =>
  b
    ? Object.entries(b)
        .map(([tf, n]) => `${tf} ${n}`)
        .join(', ')
    : 'not readable';

/** What the warm-up did, and whether the window is steady state; none for a result without a warm-up record. */
export function warmupLines(s: SoakResult): string[] {
  const w = s.warmup;
  if (!w) return s.warmupSec > 0 ? [`Warm-up: no record (it failed); the window is not known to be steady state.`, ''] : [];
  const caps = Object.entries(w.caps)
    .map(([k, v]) => `${k} ${fmt(v, 0)}`)
    .join(', ');
  const lines = [
    `Warm-up (${fmt(w.sec, 0)} s, steady load running throughout): a burst of ${fmt(w.ordersPlaced, 0)} market orders placed of ${fmt(w.ordersSent, 0)} sent, on ${w.channels} gRPC channels in ${fmt(w.burstSec, 1)} s (${fmt(w.ordersPlaced / Math.max(w.burstSec, 0.001), 0)} orders/s), to exceed the bounded per-order structures (${caps})${w.burstError ? `; the burst failed: ${w.burstError}` : ''}.`,
    `Then it waited for the 1 s bar caches, which only time fills (the simulator serves 1 s history only from its own start; one bar closes a second): bars held per timeframe for one contract (of ${fmt(w.barCacheSize, 0)}), at the start ${bars(w.barsAtStart)}; when the window started ${bars(w.barsAtEnd)}.`,
    w.steady
      ? 'The burst exceeded every per-order cap and the 1 s caches were full when the window started: the window is steady state.'
      : '**The warm-up ended before the burst exceeded every per-order cap or before the 1 s caches were full: part of any growth below may be a cache still filling.**',
  ];
  const slow = slowCaches(w.barsAtEnd, w.barCacheSize, s.durationSec);
  if (slow.length)
    lines.push(
      `Caches not full at the window start, filled from the simulator's history and growing one bar per timeframe: ${slow.map((c) => `${c.timeframe} ${c.bars} (at most ${c.maxNew} more over the window)`).join(', ')}.`,
    );
  lines.push('');
  return lines;
}

function soakTrendLines(s: SoakResult): string[] {
  const out: string[] = [];
  const p = s.partSlopesMbPerMin;
  const part = (label: string, v: number | undefined): string[] => (v === undefined ? [] : [`${label} ${fmt(v, 3)}`]);
  const parts = p ? [...part('anonymous', p.anon), ...part('V8 committed (all threads)', p.heapCommitted), ...part('external', p.external)] : [];
  if (parts.length) out.push(`Slopes of the parts after warm-up, MB/min: ${parts.join(' · ')}.`);
  if (s.lastThirdSlopeMbPerMin !== undefined) out.push(`RSS slope over the last third of the window: ${fmt(s.lastThirdSlopeMbPerMin, 3)} MB/min.`);
  const r = s.rssHalvesMb;
  if (r) out.push(`RSS low–high in the first / second half of the window: ${fmt(r.first[0], 1)}–${fmt(r.first[1], 1)} / ${fmt(r.second[0], 1)}–${fmt(r.second[1], 1)} MB (the sawtooth's envelope, whatever the phase the window starts at).`);
  const h = s.heapSlopesMbPerMin;
  if (h && Object.keys(h).length) out.push(`V8 heap in use per thread over the window, MB/min: ${Object.entries(h).map(([app, v]) => `${app} ${fmt(v, 3)}`).join(' · ')}.`);
  if (out.length) out.push('');
  return out;
}

/** The soak section of an existing PERFORMANCE.md, markers included, or undefined. */
export function extractSoakSection(md: string | undefined): string | undefined {
  if (!md) return undefined;
  const a = md.indexOf(SOAK_START);
  const b = md.indexOf(SOAK_END);
  if (a < 0 || b < a) return undefined;
  return md.slice(a, b + SOAK_END.length);
}

/** Least-squares slope of y over x. */
export function slope(xs: readonly number[], ys: readonly number[]): number {
  const n = xs.length;
  if (n < 2 || ys.length !== n) return 0;
  const mx = xs.reduce((a, b) => a + b, 0) / n;
  const my = ys.reduce((a, b) => a + b, 0) / n;
  let num = 0;
  let den = 0;
  for (let i = 0; i < n; i++) {
    num += (xs[i]! - mx) * (ys[i]! - my);
    den += (xs[i]! - mx) ** 2;
  }
  return den === 0 ? 0 : num / den;
}

export function renderReport(input: ReportInput, previousMd?: string): string {
  const { machine: m, date, mode, figures } = input;
  const soak = input.soak ? renderSoak(input.soak, date) : extractSoakSection(previousMd);
  const parts = [
    '# Performance',
    '',
    '<!-- Generated by `npm run bench` (tools/bench/run.mjs). Do not edit by hand: re-run the harness. -->',
    '',
    `- Date: ${date.toISOString()}`,
    `- Mode: ${mode}${mode === 'quick' ? ' (reduced counts and durations; run `npm run bench` for the full figures)' : ''}`,
    `- Machine: ${m.cpuModel}, ${m.cores} cores, ${fmt(m.ramGb, 1)} GB RAM, ${m.os}, Node ${m.node}`,
    ...(m.loadAvg
      ? [`- Load average (1 min) at start / end of the run: ${fmt(m.loadAvg[0], 1)} / ${fmt(m.loadAvg[1], 1)}${Math.max(...m.loadAvg) > m.cores ? ' — the machine was busy with other work: latencies and CPU figures are pessimistic' : ''}`]
      : []),
    `- The engine runs compiled (\`node ${ENGINE_NODE_FLAGS.join(' ')} dist/apps/engine/main.js\`) with its embedded simulator on loopback;`,
    '  load generators run in separate processes, so their CPU and memory are not the engine\'s.',
    '',
    renderTable(figures),
    '',
    '## How each row is measured',
    '',
    ...input.notes.map((n) => `- ${n}`),
    '',
  ];
  if (soak) parts.push(soak, '');
  // The placeholder sits between the soak markers too, so that a later `--soak` run replaces it.
  else parts.push(SOAK_START, '## Soak', '', 'Not run yet: `npm run bench -- --soak` (10 minutes).', SOAK_END, '');
  return parts.join('\n');
}
