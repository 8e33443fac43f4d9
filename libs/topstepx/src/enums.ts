// Gateway enumerations, pinned to the official numbers (topstepx-api.md §6; Swagger via projectx-rs).
// These integers go on the wire: never renumber.

export const OrderSide = { Bid: 0, Ask: 1 } as const;
export type OrderSide = (typeof OrderSide)[keyof typeof OrderSide];

export const OrderType = {
  Unknown: 0,
  Limit: 1,
  Market: 2,
  StopLimit: 3,
  Stop: 4,
  TrailingStop: 5,
  JoinBid: 6,
  JoinAsk: 7,
} as const;
export type OrderType = (typeof OrderType)[keyof typeof OrderType];

export const OrderStatus = {
  None: 0,
  Open: 1,
  Filled: 2,
  Cancelled: 3,
  Expired: 4,
  Rejected: 5,
  Pending: 6,
  PendingCancellation: 7,
  Suspended: 8,
} as const;
export type OrderStatus = (typeof OrderStatus)[keyof typeof OrderStatus];

/** Terminal statuses: the order will never change again. */
export const TERMINAL_ORDER_STATUSES: readonly OrderStatus[] = [2, 3, 4, 5];
/** Working statuses, Suspended bracket children included (`searchOpen` omits status 8). */
export const WORKING_ORDER_STATUSES: readonly OrderStatus[] = [1, 6, 7, 8];

export const PositionType = { Undefined: 0, Long: 1, Short: 2 } as const;
export type PositionType = (typeof PositionType)[keyof typeof PositionType];

export const DomType = {
  Unknown: 0,
  Ask: 1,
  Bid: 2,
  BestAsk: 3,
  BestBid: 4,
  Trade: 5,
  Reset: 6,
  Low: 7,
  High: 8,
  NewBestBid: 9,
  NewBestAsk: 10,
  Fill: 11,
} as const;
export type DomType = (typeof DomType)[keyof typeof DomType];

/** `GatewayTrade.type`: the aggressor side. */
export const TradeLogType = { Buy: 0, Sell: 1 } as const;
export type TradeLogType = (typeof TradeLogType)[keyof typeof TradeLogType];

export const AggregateBarUnit = {
  Unspecified: 0,
  Second: 1,
  Minute: 2,
  Hour: 3,
  Day: 4,
  Week: 5,
  Month: 6,
  Tick: 7,
} as const;
export type AggregateBarUnit = (typeof AggregateBarUnit)[keyof typeof AggregateBarUnit];

export const OrderSortField = { CreatedAt: 0, Id: 1 } as const;
export const SortDirection = { Asc: 0, Desc: 1 } as const;

/**
 * Per-endpoint errorCode tables (topstepx-api.md §7). The same number means different things per
 * endpoint, and partial-close codes are shifted against close: always look codes up by endpoint.
 */
export const ERROR_CODES = {
  'Auth/loginKey': ['Success', 'UserNotFound', 'PasswordVerificationFailed', 'InvalidCredentials', 'AppNotFound', 'AppVerificationFailed', 'InvalidDevice', 'AgreementsNotSigned', 'UnknownError', 'ApiSubscriptionNotFound', 'ApiKeyAuthenticationDisabled'],
  'Auth/validate': ['Success', 'InvalidSession', 'SessionNotFound', 'ExpiredToken', 'UnknownError'],
  'Auth/logout': ['Success', 'InvalidSession', 'UnknownError'],
  'Account/search': ['Success'],
  'Contract/search': ['Success'],
  'Contract/available': ['Success'],
  'Contract/searchById': ['Success', 'ContractNotFound'],
  'History/retrieveBars': ['Success', 'ContractNotFound', 'UnitInvalid', 'UnitNumberInvalid', 'LimitInvalid'],
  'Order/search': ['Success', 'AccountNotFound'],
  'Order/searchOpen': ['Success', 'AccountNotFound'],
  'Order/v2/query': ['Success', 'AccountNotFound'],
  'Order/searchById': ['Success', 'OrderNotFound'],
  'Position/searchOpen': ['Success', 'AccountNotFound'],
  'Trade/search': ['Success', 'AccountNotFound'],
  'Order/place': ['Success', 'AccountNotFound', 'OrderRejected', 'InsufficientFunds', 'AccountViolation', 'OutsideTradingHours', 'OrderPending', 'UnknownError', 'ContractNotFound', 'ContractNotActive', 'AccountRejected'],
  'Order/cancel': ['Success', 'AccountNotFound', 'OrderNotFound', 'Rejected', 'Pending', 'UnknownError', 'AccountRejected'],
  'Order/modify': ['Success', 'AccountNotFound', 'OrderNotFound', 'Rejected', 'Pending', 'UnknownError', 'AccountRejected', 'ContractNotFound'],
  'Position/closeContract': ['Success', 'AccountNotFound', 'PositionNotFound', 'ContractNotFound', 'ContractNotActive', 'OrderRejected', 'OrderPending', 'UnknownError', 'AccountRejected'],
  'Position/partialCloseContract': ['Success', 'AccountNotFound', 'PositionNotFound', 'ContractNotFound', 'ContractNotActive', 'InvalidCloseSize', 'OrderRejected', 'OrderPending', 'UnknownError', 'AccountRejected'],
} as const satisfies Record<string, readonly string[]>;

export type Endpoint = keyof typeof ERROR_CODES;

/** The errorCode name for an endpoint, or `Unknown(<n>)` for a number the table does not know. */
export function errorCodeName(endpoint: Endpoint, code: number): string {
  const table: readonly string[] = ERROR_CODES[endpoint];
  return table[code] ?? `Unknown(${code})`;
}

/**
 * Codes after which the action may or may not have happened (topstepx-api.md §7): reconcile, never
 * blind-retry. place 6/7, cancel 4/5, modify 4/5, close 6/7, partial-close 7/8.
 */
export const AMBIGUOUS_ERROR_CODES: Partial<Record<Endpoint, readonly number[]>> = {
  'Order/place': [6, 7],
  'Order/cancel': [4, 5],
  'Order/modify': [4, 5],
  'Position/closeContract': [6, 7],
  'Position/partialCloseContract': [7, 8],
};
