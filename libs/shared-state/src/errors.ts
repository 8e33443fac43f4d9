/**
 * Stable error codes of the shared-state lib. Callers switch on `code`, never on the message.
 *
 * - LAYOUT_MISMATCH        attach() was given a buffer whose header (magic, version, sizes) does not match
 * - SLOT_OUT_OF_RANGE      a contract / account slot outside the allocated capacity
 * - DIRECTORY_FULL         no free contract or account slot left
 * - DIRECTORY_CONFLICT     a contract id registered twice with different specs
 * - INVALID_ARGUMENT       a bad value; the message names the field
 * - SEQLOCK_WRITER_STUCK   a record stayed odd (being written) past the reader's bound: its writer died mid-write
 * - SEQLOCK_LIVELOCK       a reader was invalidated by new writes too many times in a row
 * - RESERVATION_UNDERFLOW  release() of more than was reserved: a bookkeeping bug in the caller
 */
export type SharedStateErrorCode =
  | 'LAYOUT_MISMATCH'
  | 'SLOT_OUT_OF_RANGE'
  | 'DIRECTORY_FULL'
  | 'DIRECTORY_CONFLICT'
  | 'INVALID_ARGUMENT'
  | 'SEQLOCK_WRITER_STUCK'
  | 'SEQLOCK_LIVELOCK'
  | 'RESERVATION_UNDERFLOW';

export class SharedStateError extends Error {
  override readonly name = 'SharedStateError';
  constructor(
    readonly code: SharedStateErrorCode,
    message: string,
  ) {
    super(`${code}: ${message}`);
  }
}

/** Throws SLOT_OUT_OF_RANGE unless `slot` is an integer in [0, capacity). Cheap enough for the hot path. */
export function checkSlot(slot: number, capacity: number, field: string): void {
  if ((slot | 0) !== slot || slot < 0 || slot >= capacity) {
    throw new SharedStateError('SLOT_OUT_OF_RANGE', `${field}: ${String(slot)} is not in [0, ${capacity})`);
  }
}

/** Throws INVALID_ARGUMENT unless `n` is an int32 in [min, max]. */
export function checkInt32(n: number, field: string, min = -2147483648, max = 2147483647): void {
  if ((n | 0) !== n || n < min || n > max) {
    throw new SharedStateError('INVALID_ARGUMENT', `${field}: expected an integer in [${min}, ${max}], got ${String(n)}`);
  }
}
