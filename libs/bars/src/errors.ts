/** Stable codes for every error this lib throws; callers map them without parsing messages. */
export type BarsErrorCode =
  | 'BARS_BAD_TIMEFRAME'
  | 'BARS_BAD_PERIOD'
  | 'BARS_BAD_TRADE'
  | 'BARS_BAD_BAR'
  | 'BARS_BAD_CONFIG'
  | 'BARS_BAD_RANGE'
  | 'BARS_OVERFLOW';

export class BarsError extends RangeError {
  override readonly name = 'BarsError';
  constructor(
    readonly code: BarsErrorCode,
    /** The input field at fault, e.g. `priceUnits` or `timeframes[2]`. */
    readonly field: string,
    message: string,
  ) {
    super(`${field}: ${message}`);
  }
}
