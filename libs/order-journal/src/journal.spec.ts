import { appendFileSync, closeSync, mkdtempSync, openSync, readFileSync, rmSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { constants as bufferConstants } from 'node:buffer';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { JOURNAL_VERSION, JournalWriter, intentOf, readJournal, type CloseJournalRecord } from './journal';
import type { PlaceTask } from './task';

const task = (i: number): PlaceTask => ({
  kind: 'place',
  orderId: `run-${i}`,
  accountId: 1001,
  accountSlot: 0,
  contractId: 'CON.F.US.MNQ.Z26',
  contractSlot: 0,
  symbol: 'MNQ',
  side: i % 2 ? 'SELL' : 'BUY',
  quantity: 1,
  orderType: 'LIMIT',
  brokerType: 1,
  limitPrice: 21000.25,
  stopLossTicks: -8,
  reduceOnly: false,
  strategyName: 'overnight_range',
  clientOrderId: `c-${i}`,
  paramsKey: 'k',
  customTag: `TradingBot-v1.0-strategy-overnight_range-LIMIT-${i}-1790000000`,
  counter: i,
  createdAtMs: 1_790_000_000_000 + i,
  deadlineMs: 0,
});

describe('order journal', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'journal-spec-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('writes intents appended in one tick as one group and reads every record back in order', async () => {
    const w = new JournalWriter(dir, 'a');
    await Promise.all([0, 1, 2].map((i) => w.appendIntent(intentOf(task(i), 1_790_000_000_100 + i))));
    w.appendOutcome({ t: 'outcome', v: 1, orderId: 'run-1', outcome: 'accepted', brokerOrderId: 77, atMs: 1_790_000_000_200 });
    w.close();
    const recs = readJournal(dir);
    expect(recs.map((r) => `${r.t}:${r.orderId}`)).toEqual(['intent:run-0', 'intent:run-1', 'intent:run-2', 'outcome:run-1']);
    const first = recs[0]!;
    expect(first.t === 'intent' && first.limitPrice).toBe(21000.25);
    expect(first.t === 'intent' && first.stopLossTicks).toBe(-8);
    expect(first.t === 'intent' && first.trailPrice).toBeUndefined();
    expect(readFileSync(w.path, 'utf8').split('\n').filter(Boolean)).toHaveLength(4);
  });

  it('keeps the close lines (format 2) apart from the order records, and skips malformed ones', async () => {
    const w = new JournalWriter(dir, '1-main');
    await w.appendIntent(intentOf(task(1), 10));
    await w.appendIntent({ t: 'close-intent', v: JOURNAL_VERSION, closeId: 'r-c1', accountId: 1001, contractId: 'CON.F.US.MNQ.Z26', side: 1, size: 2, full: true, requestKey: 'close 1001 x', paramsKey: 'k|0', atMs: 20 });
    w.appendOutcome({ t: 'close-outcome', v: JOURNAL_VERSION, closeId: 'r-c1', outcome: 'accepted', atMs: 21 });
    w.appendOutcome({ t: 'close-request', v: JOURNAL_VERSION, requestKey: 'close 1001 x', paramsKey: 'k|0', response: { success: true }, atMs: 22 });
    w.close();
    appendFileSync(w.path, `${JSON.stringify({ t: 'close-intent', v: 2, closeId: 'r-c2', accountId: 1001, side: 7, size: 1, atMs: 30 })}\n`);
    const closes: CloseJournalRecord[] = [];
    // A reader that does not ask for the closes sees the order records only (as a reader of format 1 did).
    expect(readJournal(dir).map((r) => `${r.t}:${r.orderId}`)).toEqual(['intent:run-1']);
    expect(readJournal(dir, undefined, closes).map((r) => r.orderId)).toEqual(['run-1']);
    expect(closes.map((r) => r.t)).toEqual(['close-intent', 'close-outcome', 'close-request']);
    expect(closes[0]).toMatchObject({ closeId: 'r-c1', side: 1, size: 2, full: true, requestKey: 'close 1001 x' });
  });

  it('replays a journal of format 1 (order lines only) as before', () => {
    const lines = [
      { ...intentOf(task(2), 10), v: 1 },
      { t: 'outcome', v: 1, orderId: 'run-2', outcome: 'accepted', brokerOrderId: 5, atMs: 11 },
    ];
    writeFileSync(join(dir, 'journal-7-main.jsonl'), lines.map((l) => JSON.stringify(l)).join('\n') + '\n');
    const closes: CloseJournalRecord[] = [];
    expect(readJournal(dir, undefined, closes).map((r) => `${r.t}:${r.orderId}`)).toEqual(['intent:run-2', 'outcome:run-2']);
    expect(closes).toEqual([]);
  });

  it('merges the files of several writers and skips a torn last line', async () => {
    const a = new JournalWriter(dir, '1-2');
    const b = new JournalWriter(dir, '1-main');
    await a.appendIntent(intentOf(task(5), 1));
    b.appendOutcome({ t: 'outcome', v: 1, orderId: 'run-5', outcome: 'absent', reasonCode: 'UNAVAILABLE', atMs: 2 });
    a.close();
    b.close();
    appendFileSync(a.path, '{"t":"intent","orderId":"run-6","acc');
    appendFileSync(join(dir, 'notes.txt'), 'not a journal');
    const recs = readJournal(dir);
    expect(recs.map((r) => `${r.t}:${r.orderId}`).sort()).toEqual(['intent:run-5', 'outcome:run-5']);
  });

  it('refuses intents after close (the order must not be sent) and reads a missing dir as empty', async () => {
    const w = new JournalWriter(dir, 'x');
    w.close();
    await expect(w.appendIntent(intentOf(task(1), 1))).rejects.toThrow(/closed/);
    expect(readJournal(join(dir, 'missing'))).toEqual([]);
  });

  it('keeps zeros ahead of the last line while open, reads past them, and ends at the last line once closed', async () => {
    const w = new JournalWriter(dir, 'z');
    await w.appendIntent(intentOf(task(1), 10));
    w.appendOutcome({ t: 'outcome', v: 1, orderId: 'run-1', outcome: 'accepted', brokerOrderId: 9, atMs: 11 });
    // Not closed (a crash): the file is longer than its lines, the rest zeros.
    const raw = readFileSync(w.path);
    const end = raw.indexOf(0);
    expect(end).toBeGreaterThan(0);
    expect(raw.length).toBeGreaterThanOrEqual(end + 512 * 1024);
    expect(raw.subarray(end).every((b) => b === 0)).toBe(true);
    expect(readJournal(dir).map((r) => `${r.t}:${r.orderId}`)).toEqual(['intent:run-1', 'outcome:run-1']);
    w.close();
    expect(statSync(w.path).size).toBe(end);
    expect(readFileSync(w.path, 'utf8').endsWith('\n')).toBe(true);
  });

  it('a writer reusing a file name continues after the last line, closing a torn line first', async () => {
    const path = join(dir, 'journal-7-main.jsonl');
    const first = `${JSON.stringify(intentOf(task(1), 10))}\n`;
    writeFileSync(path, Buffer.concat([Buffer.from(`${first}{"t":"intent","orderId":"run-2","acc`), Buffer.alloc(4096)]));
    const w = new JournalWriter(dir, '7-main');
    await w.appendIntent(intentOf(task(3), 12));
    w.close();
    expect(readJournal(dir).map((r) => `${r.t}:${r.orderId}`)).toEqual(['intent:run-1', 'intent:run-3']);
    expect(readFileSync(path, 'utf8').split('\n')).toHaveLength(4);
  });

  it('reads a file longer than the longest string V8 makes (a file reused by the same pid and thread across runs grows without end)', () => {
    // About 537 MB: a container's engine is pid 1 every run, so journal-1-main.jsonl collects every run's lines.
    const path = join(dir, 'journal-1-main.jsonl');
    const fd = openSync(path, 'w');
    try {
      writeSync(fd, `${JSON.stringify(intentOf(task(1), 10))}\n`);
      // Lines that are not records (the reader skips them), 1 MiB each, up past the string limit.
      const filler = Buffer.alloc(1 << 20, 0x78);
      filler[filler.length - 1] = 0x0a;
      for (let written = 0; written <= bufferConstants.MAX_STRING_LENGTH; written += filler.length) writeSync(fd, filler);
      writeSync(fd, `${JSON.stringify(intentOf(task(2), 11))}\n`);
    } finally {
      closeSync(fd);
    }
    expect(statSync(path).size).toBeGreaterThan(bufferConstants.MAX_STRING_LENGTH);
    expect(readJournal(dir).map((r) => `${r.t}:${r.orderId}`)).toEqual(['intent:run-1', 'intent:run-2']);
  });

  it('cuts the zero-filled tail off files of writers that are gone, leaves a live writer\'s files, and loses no record', () => {
    const dead = new JournalWriter(dir, '999-7');
    const live = new JournalWriter(dir, '1000-main');
    return Promise.all([dead.appendIntent(intentOf(task(1), 10)), live.appendIntent(intentOf(task(2), 11))]).then(() => {
      // Neither is closed: the dead one as after a crash (or a destroyed executor thread).
      const deadPath = join(dir, 'journal-999-7.jsonl');
      const livePath = join(dir, 'journal-1000-main.jsonl');
      const liveSize = statSync(livePath).size;
      const lineBytes = Buffer.byteLength(`${JSON.stringify(intentOf(task(1), 10))}\n`);
      const deadSize = statSync(deadPath).size;
      expect(deadSize).toBeGreaterThan(lineBytes);
      expect(liveSize).toBeGreaterThan(lineBytes);
      const before = readJournal(dir).map((r) => r.orderId);
      expect([...before].sort()).toEqual(['run-1', 'run-2']);
      expect(statSync(deadPath).size).toBe(deadSize);
      expect(readJournal(dir, '1000-').map((r) => r.orderId)).toEqual(before);
      expect(statSync(deadPath).size).toBe(lineBytes);
      expect(statSync(livePath).size).toBe(liveSize);
      expect(readJournal(dir, '1000-').map((r) => r.orderId)).toEqual(before);
      dead.close();
      live.close();
    });
  });
});
