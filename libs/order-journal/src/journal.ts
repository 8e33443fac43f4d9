// The order journal: append-only JSON lines in DATA_DIR, one file per writer (each executor thread,
// and the main thread for resolutions), so no two threads ever write the same file.
//
//   intent   written before Order/place and fsync'd (group commit: every intent appended in the same
//            tick shares one fdatasync; the orders wait for it, then are all sent)
//   outcome  written after the answer (no fsync: a lost outcome is recovered by custom tag)
//
// Since format version 2, the main thread's file also holds the closes of positions (ClosePosition, FlattenAll),
// which carry no custom tag to recover them by: `close-intent` before each Position/closeContract or
// partialCloseContract (fsync'd), `close-outcome` after its answer, and `close-request` when a call with a
// client_request_id settled having sent something (its answer, replayed to a retry). The order lines (intent,
// outcome) keep their version-1 fields (readers ignore `v`), so older journals replay as before, and an older reader
// skips the close lines.
//
// A file open for writing is zero-filled past its last line (PREALLOCATE_BYTES), so a sync does not
// also commit a new file size; a clean close truncates the zeros. Readers stop at the first NUL byte.
//
// Replay (main thread, at start): readJournal() merges every file; an intent without a final outcome
// is resolved against the broker by its custom tag.
import { closeSync, constants, existsSync, fdatasyncSync, fsyncSync, ftruncateSync, mkdirSync, openSync, readdirSync, readFileSync, truncateSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import type { PlaceTask } from './task';

/** The version written in every new line; a reader accepts lines of every version up to it. */
export const JOURNAL_VERSION = 2;
export const JOURNAL_FILE_PATTERN = /^journal-.+\.jsonl$/;
/**
 * Zeros written ahead of the last line. An fdatasync of an append that grows the file also commits
 * the file-system journal (the new size and blocks): about twice the cost of syncing data written
 * into blocks that already exist. So each file is kept this far ahead of its last line with real
 * zeros (not fallocate: unwritten extents need the same metadata commit), extended when half used.
 * Durability never depends on it: a line past the zeros is still fdatasync'd with its metadata.
 */
const PREALLOCATE_BYTES = 1 << 20;
const ZEROS = Buffer.alloc(64 * 1024);

/** The PlaceTask fields an intent keeps: what rebuilds the order book after a restart. */
type IntentFields =
  | 'orderId'
  | 'accountId'
  | 'contractId'
  | 'symbol'
  | 'side'
  | 'quantity'
  | 'orderType'
  | 'limitPrice'
  | 'stopPrice'
  | 'trailPrice'
  | 'stopLossTicks'
  | 'takeProfitTicks'
  | 'reduceOnly'
  | 'strategyName'
  | 'clientOrderId'
  | 'paramsKey'
  | 'customTag'
  | 'counter'
  | 'createdAtMs';

/** The intent of one order: the PlaceTask fields that rebuild the order book, plus when it left. */
export type IntentRecord = Pick<PlaceTask, IntentFields> & {
  readonly t: 'intent';
  readonly v: number;
  readonly sentAtMs: number;
};

export type OutcomeKind = 'accepted' | 'rejected' | 'unknown' | 'not-sent' | 'status' | 'absent';

/** What became of an order: the REST answer, a later broker status, or a reconciliation result. */
export interface OutcomeRecord {
  readonly t: 'outcome';
  readonly v: number;
  readonly orderId: string;
  readonly outcome: OutcomeKind;
  readonly atMs: number;
  readonly brokerOrderId?: number;
  /** Our state name (status records): WORKING, FILLED, … */
  readonly status?: string;
  readonly filledQuantity?: number;
  readonly averageFillPrice?: number;
  readonly reasonCode?: string;
  readonly message?: string;
}

export type JournalRecord = IntentRecord | OutcomeRecord;

/** A close of a position about to be sent (format ≥ 2): written and fdatasync'd before the send. */
export interface CloseIntentRecord {
  readonly t: 'close-intent';
  readonly v: number;
  /** Unique in the journal (the run id and a counter). */
  readonly closeId: string;
  readonly accountId: number;
  readonly contractId: string;
  /** The side of the close's market order on the wire (0 buy, 1 sell) and its size. */
  readonly side: 0 | 1;
  readonly size: number;
  /** closeContract (true) or partialCloseContract. */
  readonly full: boolean;
  /** The call's client_request_id key ("rpc account id") and its parameters, when it had one. */
  readonly requestKey?: string;
  readonly paramsKey?: string;
  readonly atMs: number;
}

/** What the broker answered to a close: accepted, refused (answered, nothing works), not sent, or unknown. */
export type CloseOutcomeKind = 'accepted' | 'refused' | 'not-sent' | 'unknown';

export interface CloseOutcomeRecord {
  readonly t: 'close-outcome';
  readonly v: number;
  readonly closeId: string;
  readonly outcome: CloseOutcomeKind;
  readonly atMs: number;
}

/** A ClosePosition / FlattenAll with a client_request_id that settled having sent something: its answer or error. */
export interface CloseRequestRecord {
  readonly t: 'close-request';
  readonly v: number;
  readonly requestKey: string;
  readonly paramsKey: string;
  readonly response?: unknown;
  readonly error?: { readonly code: string; readonly message: string };
  readonly atMs: number;
}

export type CloseJournalRecord = CloseIntentRecord | CloseOutcomeRecord | CloseRequestRecord;

export function intentOf(task: PlaceTask, sentAtMs: number): IntentRecord {
  const r: Record<string, unknown> = {
    t: 'intent',
    v: JOURNAL_VERSION,
    orderId: task.orderId,
    accountId: task.accountId,
    contractId: task.contractId,
    symbol: task.symbol,
    side: task.side,
    quantity: task.quantity,
    orderType: task.orderType,
    reduceOnly: task.reduceOnly,
    strategyName: task.strategyName,
    clientOrderId: task.clientOrderId,
    paramsKey: task.paramsKey,
    customTag: task.customTag,
    counter: task.counter,
    createdAtMs: task.createdAtMs,
    sentAtMs,
  };
  if (task.limitPrice !== undefined) r.limitPrice = task.limitPrice;
  if (task.stopPrice !== undefined) r.stopPrice = task.stopPrice;
  if (task.trailPrice !== undefined) r.trailPrice = task.trailPrice;
  if (task.stopLossTicks !== undefined) r.stopLossTicks = task.stopLossTicks;
  if (task.takeProfitTicks !== undefined) r.takeProfitTicks = task.takeProfitTicks;
  return r as unknown as IntentRecord;
}

/**
 * One journal file, owned by one thread. appendIntent resolves once the line is durable; lines of
 * intents appended in the same tick are written with one write and one fdatasync.
 */
export class JournalWriter {
  private readonly fd: number;
  private pending: string[] = [];
  private waiters: Array<{ resolve: () => void; reject: (e: Error) => void }> = [];
  private flushing = false;
  private scheduled = false;
  private closed = false;
  /** Where the next line goes (end of the last line); the zero-filled tail starts here. */
  private position = 0;
  /** End of the zero-filled tail. */
  private allocated = 0;
  private extendScheduled = false;
  readonly path: string;

  constructor(dir: string, name: string) {
    mkdirSync(dir, { recursive: true });
    this.path = join(dir, `journal-${name}.jsonl`);
    // A reused name (same pid and thread after a restart) continues the file after its last line;
    // a torn line left by a crash is closed with a newline so the next line stays readable.
    let prefix = '';
    if (existsSync(this.path)) {
      const old = readFileSync(this.path);
      const end = old.indexOf(0);
      this.position = end < 0 ? old.length : end;
      if (this.position > 0 && old[this.position - 1] !== 0x0a) prefix = '\n';
    }
    // Not O_APPEND: positioned writes land in the zero-filled tail (O_APPEND would ignore the position).
    this.fd = openSync(this.path, constants.O_RDWR | constants.O_CREAT, 0o644);
    if (prefix !== '') this.write(prefix);
    this.allocated = this.position;
    this.extend();
    syncDirectory(dir);
  }

  private write(text: string): void {
    const buf = Buffer.from(text, 'utf8');
    let done = 0;
    while (done < buf.length) done += writeSync(this.fd, buf, done, buf.length - done, this.position + done);
    this.position += buf.length;
    if (!this.extendScheduled && this.allocated - this.position < PREALLOCATE_BYTES / 2) {
      // After the current tick: the lines just synced are sent first.
      this.extendScheduled = true;
      setImmediate(() => {
        this.extendScheduled = false;
        if (!this.closed) this.extend();
      });
    }
  }

  /** Zero-fills PREALLOCATE_BYTES past the last line and syncs the file's new size. Never throws. */
  private extend(): void {
    try {
      let at = Math.max(this.allocated, this.position);
      const end = this.position + PREALLOCATE_BYTES;
      while (at < end) at += writeSync(this.fd, ZEROS, 0, Math.min(ZEROS.length, end - at), at);
      fsyncSync(this.fd);
      this.allocated = end;
    } catch {
      // Lines past the zeros are still synced with their metadata: only slower.
    }
  }

  /** Resolves when the intent is on disk (fdatasync); rejects if the write or sync fails (then do not send). */
  appendIntent(record: IntentRecord | CloseIntentRecord): Promise<void> {
    if (this.closed) return Promise.reject(new Error('journal is closed'));
    return new Promise<void>((resolve, reject) => {
      this.pending.push(JSON.stringify(record));
      this.waiters.push({ resolve, reject });
      if (!this.scheduled && !this.flushing) {
        this.scheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  /** Appends an outcome line now, without fsync. Never throws: a lost outcome is recovered by tag. */
  appendOutcome(record: OutcomeRecord | CloseOutcomeRecord | CloseRequestRecord): void {
    if (this.closed) return;
    try {
      this.write(`${JSON.stringify(record)}\n`);
    } catch {
      // The order's state is still in memory; replay resolves it by its custom tag.
    }
  }

  private flush(): void {
    this.scheduled = false;
    if (this.pending.length === 0) return;
    const lines = this.pending;
    const waiters = this.waiters;
    this.pending = [];
    this.waiters = [];
    this.flushing = true;
    const done = (err: Error | null): void => {
      this.flushing = false;
      for (const w of waiters) {
        if (err) w.reject(err);
        else w.resolve();
      }
      if (this.pending.length > 0 && !this.scheduled) {
        this.scheduled = true;
        setImmediate(() => this.flush());
      }
    };
    // Synchronous on purpose: this thread exists to send orders, and an async fdatasync costs a
    // round trip through libuv's thread pool (about 0.5 ms here) on top of the sync itself.
    let failure: Error | null = null;
    try {
      this.write(`${lines.join('\n')}\n`);
      fdatasyncSync(this.fd);
    } catch (err) {
      failure = err as Error;
    }
    done(failure);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    try {
      // A cleanly closed file ends with its last line (a crash leaves the zeros, which readers skip).
      ftruncateSync(this.fd, this.position);
    } catch {
      // the zeros stay: harmless
    }
    try {
      closeSync(this.fd);
    } catch {
      // already closed
    }
  }
}

/** Makes a new file's directory entry durable (once per file), so a synced intent cannot lose its file. */
function syncDirectory(dir: string): void {
  let fd: number | undefined;
  try {
    fd = openSync(dir, 'r');
    fsyncSync(fd);
  } catch {
    // Some file systems refuse fsync on a directory; the file's own data syncs still hold.
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/**
 * Every order record of every journal file in `dir` (missing dir = none; a torn last line, left by a crash
 * mid-write, is skipped), file by file in name order; with `closes`, the close records (format ≥ 2) are pushed
 * there. With `trimTailsExcept` (the
 * name prefix of this process's live writers, `${process.pid}-`), it also cuts the zero-filled tail (see
 * PREALLOCATE_BYTES) off every other file while it holds its bytes: a crash, or executor threads the pool
 * destroyed without closing their journals, leave up to a MiB of zeros per file, which every later replay
 * would read again. Readers stop at the first NUL, so nothing is lost. Main thread at start only, with
 * DATA_DIR held by this process (one engine per DATA_DIR).
 */
export function readJournal(dir: string, trimTailsExcept?: string, closes?: CloseJournalRecord[]): JournalRecord[] {
  let names: string[];
  try {
    names = readdirSync(dir).filter((n) => JOURNAL_FILE_PATTERN.test(n)).sort();
  } catch {
    return [];
  }
  const out: JournalRecord[] = [];
  for (const name of names) {
    const raw = readFileSync(join(dir, name));
    // The zero-filled tail of a file whose writer did not close it (see PREALLOCATE_BYTES) is not data.
    const zero = raw.indexOf(0);
    const end = zero < 0 ? raw.length : zero;
    if (zero >= 0 && trimTailsExcept !== undefined && !name.startsWith(`journal-${trimTailsExcept}`)) truncateSync(join(dir, name), zero);
    // Line by line from the bytes, not one string per file: a file reused by the same pid and thread
    // across runs (pid 1 in a container) outgrows V8's longest string (about 512 MB).
    for (let at = 0; at < end; ) {
      let nl = raw.indexOf(0x0a, at);
      if (nl < 0 || nl > end) nl = end;
      const from = at;
      at = nl + 1;
      if (nl === from) continue;
      let rec: unknown;
      try {
        rec = JSON.parse(raw.toString('utf8', from, nl));
      } catch {
        continue;
      }
      const t = (rec as { t?: unknown } | null)?.t;
      if ((t === 'intent' || t === 'outcome') && typeof (rec as { orderId?: unknown }).orderId === 'string') out.push(rec as JournalRecord);
      else if (closes !== undefined && isCloseRecord(rec)) closes.push(rec);
    }
  }
  return out;
}

/** A close line with the fields replay relies on (a line of another shape is skipped, as a torn one). */
function isCloseRecord(rec: unknown): rec is CloseJournalRecord {
  const r = rec as Record<string, unknown> | null;
  if (r === null || typeof r !== 'object' || typeof r.atMs !== 'number') return false;
  switch (r.t) {
    case 'close-intent':
      return typeof r.closeId === 'string' && typeof r.accountId === 'number' && typeof r.contractId === 'string' && (r.side === 0 || r.side === 1) && typeof r.size === 'number';
    case 'close-outcome':
      return typeof r.closeId === 'string' && typeof r.outcome === 'string';
    case 'close-request':
      return typeof r.requestKey === 'string' && typeof r.paramsKey === 'string';
    default:
      return false;
  }
}
