// Trade → subscriber latency measured from outside the engine (issue 8), with no production change. A watcher
// process subscribed to the simulator's market hub stamps the arrival of every GatewayTrade message (the same
// message the engine's market-data thread receives: the simulator writes it to both hub connections in one
// turn); each subscriber process stamps the receipt of every bar frame. A bar frame carries its bucket
// [t, end), the trades folded in so far (`n`) and their volume (`v`), so the n-th trade of that bucket in the
// hub's order names the newest trade in the frame; the watcher's batches say when each trade arrived. Stamps
// are process.hrtime (CLOCK_MONOTONIC on Linux: one clock for every process of the machine), in µs.
// Runs in the client processes (watcher and subscribers) and in tests; no I/O here.

const RS = '\x1e';

/** One GatewayTrade message as the watcher saw it. */
export interface TradeBatch {
  /** Contract id (the first argument of the invocation). */
  c: string;
  /** Arrival at the watcher, µs of process.hrtime. */
  a: number;
  /** The trades in message order, run-length encoded by timestamp: [epoch ms, trades, volume]. */
  r: [number, number, number][];
}

export interface HubRecords {
  batches: { contractId: string; runs: [number, number, number][] }[];
  /** The server pinged (type 6): the client answers so the hub's 30 s client timeout never fires. */
  ping: boolean;
  /** The handshake answer `{}` arrived. */
  handshake: boolean;
  /** Completions (type 3) of invocations sent with an id, with the hub's error if it failed. */
  completions: { id: string; error?: string }[];
  /** A close record (type 7), with its error if any. */
  close?: string;
}

/** Splits SignalR JSON-protocol text into records, keeping an unterminated tail for the next message. */
export class RecordSplitter {
  private tail = '';
  push(text: string): string[] {
    const parts = (this.tail + text).split(RS);
    this.tail = parts.pop() ?? '';
    return parts.filter((p) => p.length > 0);
  }
}

function runsOf(trades: readonly unknown[]): [number, number, number][] {
  const runs: [number, number, number][] = [];
  for (const x of trades) {
    // The Gateway may put null entries in trade arrays (topstepx-api.md §9.4): they are not trades.
    if (x === null || typeof x !== 'object') continue;
    const t = x as { timestamp?: unknown; volume?: unknown };
    const ts = typeof t.timestamp === 'string' ? Date.parse(t.timestamp) : Number.NaN;
    const vol = typeof t.volume === 'number' ? t.volume : Number.NaN;
    if (!Number.isFinite(ts) || !Number.isFinite(vol)) continue;
    const last = runs[runs.length - 1];
    if (last && last[0] === ts) {
      last[1]++;
      last[2] += vol;
    } else runs.push([ts, 1, vol]);
  }
  return runs;
}

/** The trade batches, pings, handshake and close of some hub records. Malformed records are skipped. */
export function readHubRecords(records: readonly string[]): HubRecords {
  const out: HubRecords = { batches: [], ping: false, handshake: false, completions: [] };
  for (const rec of records) {
    let msg: unknown;
    try {
      msg = JSON.parse(rec);
    } catch {
      continue;
    }
    if (msg === null || typeof msg !== 'object') continue;
    const m = msg as { type?: unknown; target?: unknown; arguments?: unknown; error?: unknown; invocationId?: unknown };
    if (m.type === undefined) {
      // The handshake answer: `{}`, or `{"error":…}` when the hub refused the protocol.
      if (typeof m.error === 'string') out.close = m.error;
      else out.handshake = true;
      continue;
    }
    if (m.type === 6) out.ping = true;
    else if (m.type === 3 && typeof m.invocationId === 'string') out.completions.push({ id: m.invocationId, ...(typeof m.error === 'string' ? { error: m.error } : {}) });
    else if (m.type === 7) out.close = typeof m.error === 'string' ? m.error : 'closed by the hub';
    else if (m.type === 1 && m.target === 'GatewayTrade' && Array.isArray(m.arguments) && typeof m.arguments[0] === 'string') {
      const payload = m.arguments[1];
      const runs = runsOf(Array.isArray(payload) ? payload : [payload]);
      if (runs.length > 0) out.batches.push({ contractId: m.arguments[0], runs });
    }
  }
  return out;
}

/** A bar frame that folds in trades its socket had not seen yet: the unit of one latency sample. */
export interface FrameRecord {
  contractId: string;
  /** Bucket [t, end), epoch ms. */
  t: number;
  end: number;
  /** Trades and volume folded into the bar so far. */
  n: number;
  v: number;
  /** Trades of the bucket this socket had already seen: trade prevN + 1 is the oldest new one. */
  prevN: number;
  /** Receipt, µs of process.hrtime. */
  receivedUs: number;
}

/**
 * One per subscriber socket: turns its bar frames into FrameRecords. The first frame of a topic is the one
 * the subscription itself triggers (the open bar as it stands), so it only sets the baseline; after that a
 * frame whose `n` grew (same bucket) or that opens a later bucket carries new trades. Re-sent open bars
 * (same `n`) and frames of an older bucket carry none.
 */
export class FrameTracker {
  private readonly last = new Map<string, { t: number; n: number }>();

  onFrame(text: string, receivedUs: number): FrameRecord | undefined {
    // Only bar frames can carry trades: skip the parse of anything else (pong, snapshot, errors).
    if (!text.startsWith('{"type":"bar"')) return undefined;
    let f: { contractId?: unknown; timeframe?: unknown; t?: unknown; end?: unknown; n?: unknown; v?: unknown };
    try {
      f = JSON.parse(text) as typeof f;
    } catch {
      return undefined;
    }
    const { contractId, timeframe, t, end, n, v } = f;
    if (typeof contractId !== 'string' || typeof t !== 'number' || typeof end !== 'number' || typeof n !== 'number' || typeof v !== 'number') return undefined;
    const topic = `${contractId}|${String(timeframe)}`;
    const prev = this.last.get(topic);
    if (!prev) {
      this.last.set(topic, { t, n });
      return undefined;
    }
    let prevN: number;
    if (t === prev.t && n > prev.n) prevN = prev.n;
    else if (t > prev.t && n > 0) prevN = 0;
    else {
      if (t > prev.t) this.last.set(topic, { t, n });
      return undefined;
    }
    this.last.set(topic, { t, n });
    return { contractId, t, end, n, v, prevN, receivedUs };
  }
}

/**
 * FrameRecords kept as numbers in one growing Float64Array rather than as objects: a full run keeps hundreds of
 * thousands, and a heap of that many live objects would give the subscriber process collector pauses that land
 * in its own receipt stamps.
 */
export class FrameLog {
  private static readonly COLS = 7;
  private data = new Float64Array(FrameLog.COLS * 4096);
  private readonly contracts: string[] = [];
  private readonly contractIndex = new Map<string, number>();
  length = 0;

  push(f: FrameRecord): void {
    let c = this.contractIndex.get(f.contractId);
    if (c === undefined) {
      c = this.contracts.push(f.contractId) - 1;
      this.contractIndex.set(f.contractId, c);
    }
    const k = FrameLog.COLS;
    if ((this.length + 1) * k > this.data.length) {
      const bigger = new Float64Array(this.data.length * 2);
      bigger.set(this.data);
      this.data = bigger;
    }
    const o = this.length * k;
    const d = this.data;
    d[o] = c;
    d[o + 1] = f.t;
    d[o + 2] = f.end;
    d[o + 3] = f.n;
    d[o + 4] = f.v;
    d[o + 5] = f.prevN;
    d[o + 6] = f.receivedUs;
    this.length++;
  }

  *records(): IterableIterator<FrameRecord> {
    const d = this.data;
    for (let i = 0; i < this.length; i++) {
      const o = i * FrameLog.COLS;
      yield { contractId: this.contracts[d[o]!]!, t: d[o + 1]!, end: d[o + 2]!, n: d[o + 3]!, v: d[o + 4]!, prevN: d[o + 5]!, receivedUs: d[o + 6]! };
    }
  }
}

/** The watcher's trades of one contract as cumulative runs, in arrival order. */
interface ContractRuns {
  ts: number[];
  /** Trades up to and including run i. */
  cumN: number[];
  cumV: number[];
  arrivalUs: number[];
}

export type MatchResult = { latencyUs: number } | { unmatched: 'uncovered' | 'mismatch' };

/** Index of the first element of a non-decreasing array that is ≥ x (length if none). */
function lowerBound(xs: readonly number[], x: number): number {
  let lo = 0;
  let hi = xs.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (xs[mid]! < x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Matches frames to the watcher's trades (see the file head). */
export class TradeIndex {
  private readonly byContract = new Map<string, ContractRuns>();

  constructor(batches: readonly TradeBatch[]) {
    for (const b of batches) {
      let c = this.byContract.get(b.c);
      if (!c) this.byContract.set(b.c, (c = { ts: [], cumN: [], cumV: [], arrivalUs: [] }));
      for (const [ts, count, vol] of b.r) {
        const k = c.ts.length;
        c.ts.push(ts);
        c.cumN.push((k > 0 ? c.cumN[k - 1]! : 0) + count);
        c.cumV.push((k > 0 ? c.cumV[k - 1]! : 0) + vol);
        c.arrivalUs.push(b.a);
      }
    }
  }

  /**
   * Latency of a frame from the arrival of the oldest trade it newly carries, or why it has no match:
   * `uncovered` when the watcher did not see the whole bucket (it subscribed after the bucket began, or
   * stopped before the frame's trades), `mismatch` when the frame's count or volume agrees with no batch
   * boundary of the watcher's trades (a trade the engine and the watcher saw differently).
   */
  match(f: FrameRecord): MatchResult {
    const c = this.byContract.get(f.contractId);
    // The watcher must have seen a trade before the bucket began, or the bucket's first trades may be missing.
    if (!c || c.ts[0]! >= f.t) return { unmatched: 'uncovered' };
    const first = lowerBound(c.ts, f.t);
    const baseN = first > 0 ? c.cumN[first - 1]! : 0;
    const baseV = first > 0 ? c.cumV[first - 1]! : 0;
    const target = baseN + f.n;
    if (target > c.cumN[c.cumN.length - 1]!) return { unmatched: 'uncovered' };
    // The engine folds a whole hub message in one turn, so the frame's newest trade ends a run.
    const j = lowerBound(c.cumN, target);
    if (c.cumN[j] !== target || c.ts[j]! >= f.end || c.cumV[j]! - baseV !== f.v) return { unmatched: 'mismatch' };
    const oldest = lowerBound(c.cumN, baseN + f.prevN + 1);
    return { latencyUs: f.receivedUs - c.arrivalUs[oldest]! };
  }
}

export interface LatencyTally {
  /** Latencies of the matched frames, µs (a negative one — receipt before the watcher's stamp — is kept as 0). */
  samplesUs: number[];
  matched: number;
  uncovered: number;
  mismatch: number;
  /** Matched frames stamped before the watcher's arrival stamp (both clocks are one; the watcher was late). */
  early: number;
}

/** Matches the frames received within [fromUs, toUs] against the watcher's batches. */
export function tallyLatencies(frames: Iterable<FrameRecord>, batches: readonly TradeBatch[], fromUs: number, toUs: number): LatencyTally {
  const index = new TradeIndex(batches);
  const out: LatencyTally = { samplesUs: [], matched: 0, uncovered: 0, mismatch: 0, early: 0 };
  for (const f of frames) {
    if (f.receivedUs < fromUs || f.receivedUs > toUs) continue;
    const m = index.match(f);
    if ('unmatched' in m) {
      out[m.unmatched]++;
      continue;
    }
    out.matched++;
    if (m.latencyUs < 0) out.early++;
    out.samplesUs.push(Math.max(0, m.latencyUs));
  }
  return out;
}
