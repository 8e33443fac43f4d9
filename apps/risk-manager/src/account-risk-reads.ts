// The REST reads of a rebuild, paired with the balance they were read against (ADR 0007, decision 1).
// The start-of-day balance (balance − today's realised net) raises the MLL floor, which never comes down, but the
// balance (Account/search) and the trades (Trade/search) are two reads, not one instant: a fill between them is in one
// and not the other. So the balance is read before and after the trades: when the two agree, no fill that moved the
// balance landed in between, and the pair is consistent. When they differ (a fill landed), the rows are read once more
// between the second balance and a third; if that pair differs too, the rebuild is applied without trailing the floor.
// Thread: the risk-manager thread (the reads are its REST client's; this module only orders them).

/**
 * Attempts at a consistent pair: each attempt after the first costs Position/searchOpen, Order/v2/query,
 * Trade/search and Account/search again (4 of the thread's 30 REST calls per 61 s), and happens only when a fill moved
 * the balance during the reads, so two attempts keep a rebuild within 9 calls.
 */
export const DAY_READ_ATTEMPTS = 2;

export interface DayReadSteps<T> {
  /** Account/search: the account's balance (USD), undefined when the account is not listed. */
  balance(): Promise<number | undefined>;
  /** Everything else the rebuild replays (positions, working orders, trades), read between two balance reads. */
  rows(): Promise<T>;
}

export interface DayRead<T> {
  rows: T;
  /** The balance read after `rows` (the latest known). */
  balance: number | undefined;
  /**
   * The balance read before `rows` equals the one read after: the trades are consistent with it, and the
   * start-of-day balance may trail the floor. false when the account was not listed or every attempt differed.
   */
  balanceSettled: boolean;
  /** Attempts made (1 when the first pair agreed). */
  attempts: number;
}

/** Reads balance, rows, balance; again (rows, balance) while the pair differs, at most `attempts` times in all. */
export async function readDayWithBalance<T>(steps: DayReadSteps<T>, attempts = DAY_READ_ATTEMPTS): Promise<DayRead<T>> {
  if (!Number.isInteger(attempts) || attempts < 1) throw new RangeError(`attempts must be a positive integer, got ${String(attempts)}`);
  let before = await steps.balance();
  for (let attempt = 1; ; attempt++) {
    const rows = await steps.rows();
    const after = await steps.balance();
    const settled = after !== undefined && after === before;
    if (settled || attempt === attempts) return { rows, balance: after, balanceSettled: settled, attempts: attempt };
    // The second balance read opens the next pair: one call per attempt is saved.
    before = after;
  }
}
