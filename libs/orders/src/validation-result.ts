/** A refused input: `field` is the proto field name exactly (`strategy_name`, `quantity`, ...). */
export interface ValidationFailure {
  readonly ok: false;
  readonly field: string;
  /** `${field}: reason`, ready for the gRPC status details and the HTTP error body. */
  readonly message: string;
  /** INVALID_ARGUMENT, or STALE_MARKET_DATA when a needed market price is missing. */
  readonly code: 'INVALID_ARGUMENT' | 'STALE_MARKET_DATA';
}
