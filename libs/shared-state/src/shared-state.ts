import { Accounts } from './accounts';
import { CloseLeases } from './closes';
import { ContractDirectory } from './directory';
import { SharedStateError } from './errors';
import { HEADER, LAYOUT_VERSION, MAGIC, canaryValue, computeLayout, type Layout, type LayoutOptions } from './layout';
import { Marks } from './marks';
import { RateBudget } from './rate';
import { Reservations } from './reservations';
import { SeqlockReader, type SeqlockReadOptions } from './seqlock';

/**
 * What the main thread hands to workers (workerData): a plain, structured-clonable object. The SharedArrayBuffer is
 * shared, not copied, by postMessage / workerData.
 */
export interface SharedStateBuffers {
  buffer: SharedArrayBuffer;
  options: LayoutOptions;
}

export interface AttachOptions {
  /** Bounds of seqlock readers in this thread (see SeqlockReadOptions). */
  seqlock?: Partial<SeqlockReadOptions>;
}

/**
 * Main thread only, once at start. Allocates the zeroed buffer, writes the header and canaries, and sets the
 * defaults that are not zero: rate logs and buckets (200/60 s, 50/30 s), every contract's stale flag = 1 (no data
 * yet: entries fail closed until market-data publishes a mark and clears it).
 */
export function allocateSharedState(opts: Partial<LayoutOptions> = {}): SharedStateBuffers {
  const layout = computeLayout(opts);
  const buffer = new SharedArrayBuffer(layout.totalBytes);
  const a = new Int32Array(buffer);
  Atomics.store(a, HEADER.VERSION, LAYOUT_VERSION);
  Atomics.store(a, HEADER.TOTAL_BYTES, layout.totalBytes);
  Atomics.store(a, HEADER.CONTRACTS, layout.options.contracts);
  Atomics.store(a, HEADER.ACCOUNTS, layout.options.accounts);
  Atomics.store(a, HEADER.RATE_LOG_CAPACITY, layout.options.rateLogCapacity);
  Atomics.store(a, HEADER.CLOSE_LEASES, layout.options.closeLeases);
  layout.canaries.forEach((idx, i) => Atomics.store(a, idx, canaryValue(i)));
  const stale = layout.regions.markStale;
  for (let s = 0; s < layout.options.contracts; s++) Atomics.store(a, stale.offset + s, 1);
  new RateBudget(a, layout).initLogs();
  // Magic last: a buffer is attachable only once it is fully initialised.
  Atomics.store(a, HEADER.MAGIC, MAGIC);
  return { buffer, options: { ...layout.options } };
}

/** Any thread, once per thread: validates the buffer and builds this thread's views and caches. */
export function attachSharedState(b: SharedStateBuffers, opts: AttachOptions = {}): SharedState {
  if (b === null || typeof b !== 'object' || !(b.buffer instanceof SharedArrayBuffer)) {
    throw new SharedStateError('LAYOUT_MISMATCH', 'buffer: expected a SharedArrayBuffer from allocateSharedState()');
  }
  let layout: Layout;
  try {
    layout = computeLayout(b.options ?? {});
  } catch (e) {
    throw new SharedStateError('LAYOUT_MISMATCH', `options: ${(e as Error).message}`);
  }
  if (b.buffer.byteLength < 64) {
    throw new SharedStateError('LAYOUT_MISMATCH', `buffer: ${b.buffer.byteLength} bytes is smaller than the header`);
  }
  const a = new Int32Array(b.buffer);
  const magic = Atomics.load(a, HEADER.MAGIC);
  if (magic !== MAGIC) {
    throw new SharedStateError('LAYOUT_MISMATCH', `magic: expected 0x${MAGIC.toString(16)}, found 0x${(magic >>> 0).toString(16)} (not a shared-state buffer, or not initialised)`);
  }
  const version = Atomics.load(a, HEADER.VERSION);
  if (version !== LAYOUT_VERSION) {
    throw new SharedStateError('LAYOUT_MISMATCH', `version: buffer has layout v${version}, this code reads v${LAYOUT_VERSION}`);
  }
  const checks: [string, number, number][] = [
    ['totalBytes', Atomics.load(a, HEADER.TOTAL_BYTES), layout.totalBytes],
    ['byteLength', b.buffer.byteLength, layout.totalBytes],
    ['contracts', Atomics.load(a, HEADER.CONTRACTS), layout.options.contracts],
    ['accounts', Atomics.load(a, HEADER.ACCOUNTS), layout.options.accounts],
    ['rateLogCapacity', Atomics.load(a, HEADER.RATE_LOG_CAPACITY), layout.options.rateLogCapacity],
    ['closeLeases', Atomics.load(a, HEADER.CLOSE_LEASES), layout.options.closeLeases],
  ];
  for (const [field, found, expected] of checks) {
    if (found !== expected) {
      throw new SharedStateError('LAYOUT_MISMATCH', `${field}: buffer says ${found}, options say ${expected}`);
    }
  }
  const state = new SharedState(a, layout, opts);
  const broken = state.brokenCanaries();
  if (broken.length > 0) {
    throw new SharedStateError('LAYOUT_MISMATCH', `canaries overwritten at words ${broken.join(', ')}`);
  }
  return state;
}

/** One thread's views over the shared buffer. Each region class says which thread may call which method. */
export class SharedState {
  readonly directory: ContractDirectory;
  readonly marks: Marks;
  readonly accounts: Accounts;
  readonly reservations: Reservations;
  readonly rate: RateBudget;
  readonly closes: CloseLeases;

  constructor(
    /** The whole buffer as int32 words; for tests and diagnostics, not for region access. */
    readonly words: Int32Array,
    readonly layout: Layout,
    opts: AttachOptions = {},
  ) {
    const reader = new SeqlockReader(words, HEADER.PARK, opts.seqlock);
    this.directory = new ContractDirectory(words, layout);
    this.marks = new Marks(words, layout, reader);
    this.accounts = new Accounts(words, layout, reader);
    this.reservations = new Reservations(words, layout);
    this.rate = new RateBudget(words, layout);
    this.closes = new CloseLeases(words, layout);
  }

  /** Any thread. Word indexes of guard canaries that no longer hold their value (empty when intact). */
  brokenCanaries(): number[] {
    const out: number[] = [];
    this.layout.canaries.forEach((idx, i) => {
      if (Atomics.load(this.words, idx) !== canaryValue(i)) out.push(idx);
    });
    return out;
  }
}
