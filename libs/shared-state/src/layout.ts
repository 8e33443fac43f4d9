import { SharedStateError } from './errors';

/*
 * The shared-memory layout, declared once (house style §7). One SharedArrayBuffer, allocated by the engine's main
 * thread, viewed by every thread as ONE Int32Array; all offsets below are in 32-bit words.
 *
 * Every 64-bit value (prices, money, epoch-ms times, account ids) is an "i64 pair": two int32 words, low word first,
 * value = hi * 2^32 + (lo >>> 0), always a JS safe integer, so no view needs BigInt and readers never allocate.
 * Writers store with Atomics; multi-word records are made consistent by their sequence lock (see seqlock.ts for why
 * readers may load fields plainly); counters that several threads update are single int32 words changed only by
 * Atomics read-modify-write.
 * Times are epoch milliseconds (UTC) stored as i64 pairs — no relative epoch to keep in sync.
 *
 *  word 0
 *  ┌──────────────────────────────── header (16 words) ──────────────────────────────────────────────┐
 *  │ magic · version · totalBytes · contracts · accounts · rateLogCapacity · contractCount(atomic)   │
 *  │ accountCount(atomic) · park word (always 0, seqlock readers Atomics.wait on it while a writer   │
 *  │ is preempted) · closeLeases · reserved                                                          │
 *  └─────────────────────────────────────────────────────────────────────────────────────────────────┘
 *  every region below is preceded by a 16-word guard block whose first word is a canary (0x5AFE0000 + index);
 *  one more guard block closes the buffer.
 *  ┌ guard ┐┌ contractDirectory  contracts × 32 ─ writer: main thread (published by contractCount) ───────┐
 *  │       ││ id bytes[48] (12 words, ASCII) · idLength · weight · tickSize i64 (price units)           │
 *  │       ││ · tickValue i64 (money units)                                                              │
 *  ├ guard ┤├ marks              contracts × 16 ─ writer: market-data ─ seqlock per record ─────────────┤
 *  │       ││ seq · pad · last · bid · ask (i64 price units, 0 = unknown) · lastTradeMs · updatedMs      │
 *  ├ guard ┤├ markStale          contracts × 1  ─ writer: market-data ─ atomic 0/1 ───────────────────────┤
 *  ├ guard ┤├ accountDirectory   accounts × 2   ─ writer: main thread (published by accountCount) ────────┤
 *  │       ││ accountId i64                                                                              │
 *  ├ guard ┤├ accountReady       accounts × 1   ─ writer: risk-manager ─ atomic 0/1 (executor fails closed)┤
 *  ├ guard ┤├ accounts           accounts × 32  ─ writer: risk-manager ─ seqlock per record ────────────┤
 *  │       ││ seq · state · reason · tradingDayId · positionUnits · maxPositionUnits · maxOpenOrders     │
 *  │       ││ · maxOrdersPerMinute · openOrders · pad · accountId · balance · startOfDayBalance         │
 *  │       ││ · realizedGross · fees · unrealized · dayNetPnl · dllLimit · mllFloor · headroom          │
 *  │       ││ · updatedMs (all i64)                                                                      │
 *  ├ guard ┤├ positions          accounts × contracts × 16 ─ writer: risk-manager ─ seqlock per record ──┤
 *  │       ││ seq · netSize · avgPrice · realizedGross · fees · unrealized · workingStopLoss · updatedMs │
 *  │       ││ · workingBuy · workingSell (int32: remaining size of working orders seen)                  │
 *  ├ guard ┤├ reservationAccounts accounts × 16 ─ writers: executors + risk-manager, Atomics RMW only ───┤
 *  │       ││ pendingUnits · openOrders                                                                  │
 *  ├ guard ┤├ reservationPositions accounts × contracts × 2 ─ same writers, Atomics RMW only ────────────┤
 *  │       ││ pendingBuy · pendingSell (contracts)                                                       │
 *  ├ guard ┤├ rateBuckets        2 × (16 + rateLogCapacity × 4) ─ writers: any thread, Atomics RMW ──────┤
 *  │       ││ header: limit · windowMs · enabled (main thread) · grantCount (CAS)                        │
 *  │       ││ grant log ring: grantIndex (publish word) · grantTimeMs i64 · pad                          │
 *  ├ guard ┤├ orderRate          accounts × (16 + rateLogCapacity × 4) ─ same primitive, window 60 s ────┤
 *  ├ guard ┤├ closeLeases        16 + closeLeases × 32 ─ writers: main thread + risk-manager, CAS only ───┤
 *  │       ││ header: fullCount · evictions                                                              │
 *  │       ││ entry: state (generation << 3 | phase, every change a compareExchange) · owner · side · size│
 *  │       ││ · accountId i64 · claimedMs i64 · sentMs i64 · idLength · idHash · id bytes[48] (closes.ts)│
 *  └ guard ┘└─────────────────────────────────────────────────────────────────────────────────────────────┘
 */
export const LAYOUT_DIAGRAM = `
header(16w) | guard | contractDirectory[contracts x 32w]  main thread
            | guard | marks[contracts x 16w]                market-data, seqlock
            | guard | markStale[contracts x 1w]             market-data, atomic
            | guard | accountDirectory[accounts x 2w]       main thread
            | guard | accountReady[accounts x 1w]           risk-manager, atomic
            | guard | accounts[accounts x 32w]              risk-manager, seqlock
            | guard | positions[accounts x contracts x 16w] risk-manager, seqlock
            | guard | reservationAccounts[accounts x 16w]   executors + risk-manager, Atomics RMW
            | guard | reservationPositions[accounts x contracts x 2w]  executors + risk-manager, Atomics RMW
            | guard | rateBuckets[2 x (16 + cap x 4)w]      any thread, Atomics RMW
            | guard | orderRate[accounts x (16 + cap x 4)w] executors, Atomics RMW
            | guard | closeLeases[16 + leases x 32w]        main thread + risk-manager, compareExchange
            | guard
i64 = two int32 words (lo, hi); prices 1e-9 units, money 1e-4 USD units, times epoch ms.`;

export interface LayoutOptions {
  /** Contract slots (default 64). */
  contracts: number;
  /** Account slots (default 8). */
  accounts: number;
  /** Max grants a rate window can hold: the upper bound for any bucket's `limit` and for ORDER_RATE (default 256). */
  rateLogCapacity: number;
  /**
   * Entries of the close-lease table (default 64): closes of distinct (account, contract) in flight at once, sent
   * within the last 30 s. Beyond it a claim evicts the oldest answered one (closes.ts).
   */
  closeLeases: number;
}

export const DEFAULT_LAYOUT_OPTIONS: Readonly<LayoutOptions> = Object.freeze({
  contracts: 64,
  accounts: 8,
  rateLogCapacity: 256,
  closeLeases: 64,
});

/** "GWSS" — gateway shared state. */
export const MAGIC = 0x47575353;
/** Bump on every change of the layout; attach() refuses a buffer of another version. */
export const LAYOUT_VERSION = 3;

export const HEADER_WORDS = 16;
export const HEADER = Object.freeze({
  MAGIC: 0,
  VERSION: 1,
  TOTAL_BYTES: 2,
  CONTRACTS: 3,
  ACCOUNTS: 4,
  RATE_LOG_CAPACITY: 5,
  /** Published contract-slot count: Atomics.store by the main thread after the slot is fully written. */
  CONTRACT_COUNT: 6,
  /** Published account-slot count, same rule. */
  ACCOUNT_COUNT: 7,
  /** Always 0: seqlock readers Atomics.wait on it (bounded) to yield while a writer is preempted mid-record. */
  PARK: 8,
  CLOSE_LEASES: 9,
});

export const GUARD_WORDS = 16;
export const CANARY_BASE = 0x5afe0000;
export const ID_MAX_BYTES = 48;

/** contractDirectory record (32 words). Immutable once published. */
export const DIR = Object.freeze({ ID: 0, ID_LENGTH: 12, WEIGHT: 13, TICK_SIZE: 14, TICK_VALUE: 16, WORDS: 32 });
/** marks record (16 words), seqlock at SEQ. */
export const MARK = Object.freeze({ SEQ: 0, LAST: 2, BID: 4, ASK: 6, LAST_TRADE_MS: 8, UPDATED_MS: 10, WORDS: 16 });
/** accounts record (32 words), seqlock at SEQ. */
export const ACC = Object.freeze({
  SEQ: 0,
  STATE: 1,
  REASON: 2,
  TRADING_DAY_ID: 3,
  POSITION_UNITS: 4,
  MAX_POSITION_UNITS: 5,
  MAX_OPEN_ORDERS: 6,
  MAX_ORDERS_PER_MINUTE: 7,
  OPEN_ORDERS: 8,
  ACCOUNT_ID: 10,
  BALANCE: 12,
  START_OF_DAY_BALANCE: 14,
  REALIZED_GROSS: 16,
  FEES: 18,
  UNREALIZED: 20,
  DAY_NET_PNL: 22,
  DLL_LIMIT: 24,
  MLL_FLOOR: 26,
  HEADROOM: 28,
  UPDATED_MS: 30,
  WORDS: 32,
});
/** positions record (16 words), seqlock at SEQ. */
export const POS = Object.freeze({
  SEQ: 0,
  NET_SIZE: 1,
  AVG_PRICE: 2,
  REALIZED_GROSS: 4,
  FEES: 6,
  UNREALIZED: 8,
  WORKING_STOP_LOSS: 10,
  UPDATED_MS: 12,
  /** Remaining size of working buy / sell orders the risk-manager has seen (int32, ≥ 0). */
  WORKING_BUY: 14,
  WORKING_SELL: 15,
  WORDS: 16,
});
/** reservationAccounts record (16 words: one cache line per account, executors on different accounts don't collide). */
export const RES_ACC = Object.freeze({ PENDING_UNITS: 0, OPEN_ORDERS: 1, WORDS: 16 });
/** reservationPositions record. */
export const RES_POS = Object.freeze({ PENDING_BUY: 0, PENDING_SELL: 1, WORDS: 2 });
/** A rate log (bucket or per-account order rate): header then `rateLogCapacity` slots. */
export const RATE = Object.freeze({
  LIMIT: 0,
  WINDOW_MS: 1,
  ENABLED: 2,
  /** Grant counter, its own cache line half: contended by every acquiring thread. */
  COUNT: 8,
  HEADER_WORDS: 16,
  /** Slot: index of the grant stored here (publish word, written last) · grant time i64. */
  SLOT_INDEX: 0,
  SLOT_TIME: 1,
  SLOT_WORDS: 4,
});
/** closeLeases region: header words, then the fields of an entry (32 words, from the entry's start; closes.ts). */
export const CLOSE_LEASE = Object.freeze({
  FULL_COUNT: 0,
  EVICTIONS: 1,
  HEADER_WORDS: 16,
  STATE: 0,
  OWNER: 1,
  SIDE: 2,
  SIZE: 3,
  ACCOUNT_ID: 4,
  CLAIMED_MS: 6,
  SENT_MS: 8,
  ID_LENGTH: 10,
  ID_HASH: 11,
  ID: 12,
  ID_BYTES: 48,
  WORDS: 32,
});

export const RATE_BUCKETS = Object.freeze(['general', 'bars'] as const);
export type RateBucketName = (typeof RATE_BUCKETS)[number];

export type RegionName =
  | 'contractDirectory'
  | 'marks'
  | 'markStale'
  | 'accountDirectory'
  | 'accountReady'
  | 'accounts'
  | 'positions'
  | 'reservationAccounts'
  | 'reservationPositions'
  | 'rateBuckets'
  | 'orderRate'
  | 'closeLeases';

export interface RegionLayout {
  readonly name: RegionName;
  readonly writer: string;
  /** First word of the region (after its guard block). */
  readonly offset: number;
  readonly words: number;
  /** Word index of the canary in the guard block just before the region. */
  readonly canary: number;
}

export interface Layout {
  readonly options: Readonly<LayoutOptions>;
  readonly regions: Readonly<Record<RegionName, RegionLayout>>;
  /** Canary word indexes in order: one before each region, one at the end. */
  readonly canaries: readonly number[];
  readonly totalWords: number;
  readonly totalBytes: number;
}

/** The region table: order, writer and size per region. The only place sizes are declared. */
const REGION_TABLE: readonly { name: RegionName; writer: string; words: (o: LayoutOptions) => number }[] = [
  { name: 'contractDirectory', writer: 'main thread', words: (o) => o.contracts * DIR.WORDS },
  { name: 'marks', writer: 'market-data', words: (o) => o.contracts * MARK.WORDS },
  { name: 'markStale', writer: 'market-data', words: (o) => o.contracts },
  { name: 'accountDirectory', writer: 'main thread', words: (o) => o.accounts * 2 },
  { name: 'accountReady', writer: 'risk-manager', words: (o) => o.accounts },
  { name: 'accounts', writer: 'risk-manager', words: (o) => o.accounts * ACC.WORDS },
  { name: 'positions', writer: 'risk-manager', words: (o) => o.accounts * o.contracts * POS.WORDS },
  { name: 'reservationAccounts', writer: 'executors + risk-manager (Atomics RMW)', words: (o) => o.accounts * RES_ACC.WORDS },
  {
    name: 'reservationPositions',
    writer: 'executors + risk-manager (Atomics RMW)',
    words: (o) => o.accounts * o.contracts * RES_POS.WORDS,
  },
  { name: 'rateBuckets', writer: 'any thread (Atomics RMW)', words: (o) => RATE_BUCKETS.length * rateLogWords(o) },
  { name: 'orderRate', writer: 'executors (Atomics RMW)', words: (o) => o.accounts * rateLogWords(o) },
  { name: 'closeLeases', writer: 'main thread + risk-manager (compareExchange)', words: (o) => CLOSE_LEASE.HEADER_WORDS + o.closeLeases * CLOSE_LEASE.WORDS },
];

export function rateLogWords(o: LayoutOptions): number {
  return RATE.HEADER_WORDS + o.rateLogCapacity * RATE.SLOT_WORDS;
}

/** Rounds up to a multiple of 16 words (64 bytes) so regions start on their own cache line. */
function align16(words: number): number {
  return (words + 15) & ~15;
}

function checkOption(value: unknown, name: keyof LayoutOptions, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new SharedStateError('INVALID_ARGUMENT', `options.${name}: expected an integer in [${min}, ${max}], got ${String(value)}`);
  }
  return value;
}

/** Fills defaults and validates; the result is what the header records and what attach() compares. */
export function resolveLayoutOptions(opts: Partial<LayoutOptions> = {}): Readonly<LayoutOptions> {
  return Object.freeze({
    contracts: checkOption(opts.contracts ?? DEFAULT_LAYOUT_OPTIONS.contracts, 'contracts', 1, 4096),
    accounts: checkOption(opts.accounts ?? DEFAULT_LAYOUT_OPTIONS.accounts, 'accounts', 1, 1024),
    rateLogCapacity: checkOption(opts.rateLogCapacity ?? DEFAULT_LAYOUT_OPTIONS.rateLogCapacity, 'rateLogCapacity', 1, 65536),
    closeLeases: checkOption(opts.closeLeases ?? DEFAULT_LAYOUT_OPTIONS.closeLeases, 'closeLeases', 1, 4096),
  });
}

/** Computes every offset from the region table. Pure: same options, same layout, in every thread. */
export function computeLayout(opts: Partial<LayoutOptions> = {}): Layout {
  const options = resolveLayoutOptions(opts);
  let cursor = HEADER_WORDS;
  const canaries: number[] = [];
  const regions = {} as Record<RegionName, RegionLayout>;
  for (const r of REGION_TABLE) {
    const canary = cursor;
    canaries.push(canary);
    cursor += GUARD_WORDS;
    const words = r.words(options);
    regions[r.name] = Object.freeze({ name: r.name, writer: r.writer, offset: cursor, words, canary });
    cursor += align16(words);
  }
  canaries.push(cursor);
  cursor += GUARD_WORDS;
  const totalBytes = cursor * 4;
  if (totalBytes > 0x7fffffff) {
    throw new SharedStateError('INVALID_ARGUMENT', `options: layout of ${totalBytes} bytes is too large`);
  }
  return Object.freeze({ options, regions: Object.freeze(regions), canaries: Object.freeze(canaries), totalWords: cursor, totalBytes });
}

/** Canary value of guard block `i` (0-based in `Layout.canaries` order). */
export function canaryValue(i: number): number {
  return (CANARY_BASE + i) | 0;
}

/** A human-readable table of the layout for logs and docs. */
export function describeLayout(opts: Partial<LayoutOptions> = {}): string {
  const l = computeLayout(opts);
  const lines = [
    `shared-state layout v${LAYOUT_VERSION}: contracts=${l.options.contracts} accounts=${l.options.accounts} rateLogCapacity=${l.options.rateLogCapacity} closeLeases=${l.options.closeLeases} totalBytes=${l.totalBytes}`,
    'region                 byteOffset      bytes  writer',
  ];
  for (const r of Object.values(l.regions)) {
    lines.push(`${r.name.padEnd(22)} ${String(r.offset * 4).padStart(10)} ${String(r.words * 4).padStart(10)}  ${r.writer}`);
  }
  return lines.join('\n');
}
