// The order journal: append-only JSON lines in DATA_DIR, one file per writer (each executor thread,
// and the main thread for resolutions), so no two threads ever write the same file.
//
//   intent   written before Order/place and fsync'd (group commit: every intent appended in the same
//            tick shares one fdatasync; the orders wait for it, then are all sent)
//   outcome  written after the answer (no fsync: a lost outcome is recovered by custom tag)
//
// Replay (main thread, at start): readJournal() merges every file; an intent without a final outcome
// is resolved against the broker by its custom tag.
import { closeSync, fdatasyncSync, fsyncSync, mkdirSync, openSync, readdirSync, readFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import type { PlaceTask } from './task';

export const JOURNAL_VERSION = 1;
export const JOURNAL_FILE_PATTERN = /^journal-.+\.jsonl$/;

/** The intent of one order: the PlaceTask fields that rebuild the order book, plus when it left. */
export interface IntentRecord {
  readonly t: 'intent';
  readonly v: number;
  readonly orderId: string;
  readonly accountId: number;
  readonly contractId: string;
  readonly symbol: string;
  readonly side: 'BUY' | 'SELL';
  readonly quantity: number;
  readonly orderType: string;
  readonly limitPrice?: number;
  readonly stopPrice?: number;
  readonly trailPrice?: number;
  readonly stopLossTicks?: number;
  readonly takeProfitTicks?: number;
  readonly reduceOnly: boolean;
  readonly strategyName: string;
  readonly clientOrderId: string;
  readonly paramsKey: string;
  readonly customTag: string;
  readonly counter: number;
  readonly createdAtMs: number;
  readonly sentAtMs: number;
}

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
  readonly path: string;

  constructor(dir: string, name: string) {
    mkdirSync(dir, { recursive: true });
    this.path = join(dir, `journal-${name}.jsonl`);
    this.fd = openSync(this.path, 'a');
    syncDirectory(dir);
  }

  /** Resolves when the intent is on disk (fdatasync); rejects if the write or sync fails (then do not send). */
  appendIntent(record: IntentRecord): Promise<void> {
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
  appendOutcome(record: OutcomeRecord): void {
    if (this.closed) return;
    try {
      writeSync(this.fd, `${JSON.stringify(record)}\n`);
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
      writeSync(this.fd, `${lines.join('\n')}\n`);
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

/** Every record of every journal file in `dir` (missing dir = none). A torn last line (crash mid-write) is skipped. */
export function readJournal(dir: string): JournalRecord[] {
  let names: string[];
  try {
    names = readdirSync(dir).filter((n) => JOURNAL_FILE_PATTERN.test(n)).sort();
  } catch {
    return [];
  }
  const out: JournalRecord[] = [];
  for (const name of names) {
    const text = readFileSync(join(dir, name), 'utf8');
    for (const line of text.split('\n')) {
      if (line === '') continue;
      let rec: unknown;
      try {
        rec = JSON.parse(line);
      } catch {
        continue;
      }
      const t = (rec as { t?: unknown } | null)?.t;
      if ((t === 'intent' || t === 'outcome') && typeof (rec as { orderId?: unknown }).orderId === 'string') out.push(rec as JournalRecord);
    }
  }
  return out;
}
