// Stable error codes of order entry and the one mapper from a code to gRPC and HTTP status
// (house style §9). The front door (gRPC and REST twins) calls mapErrorToStatus; nothing else
// picks status numbers.

import { REASON_CODES, type ReasonCode } from '@gateway/risk';

/**
 * Risk denials: FAILED_PRECONDITION, the code in the message and in trailing metadata `reason-code`.
 * The list is the risk domain's (one source of truth for the wire names).
 */
export const RISK_REASON_CODES = REASON_CODES;
export type RiskReasonCode = ReasonCode;

export const ORDER_ERROR_CODES = [
  // Bad input; the message names the proto field.
  'INVALID_ARGUMENT',
  ...RISK_REASON_CODES,
  // Unknown order id, or no position to close.
  'NOT_FOUND',
  // A client_order_id reused with different order parameters.
  'ALREADY_EXISTS',
  // The executor queue is full: nothing was sent, retrying later is safe.
  'QUEUE_FULL',
  // The broker answered success:false; the message carries its errorCode name and text.
  'BROKER_REJECTED',
  // Sent and no answer: never retried blindly, resolved by custom tag; the order id is returned.
  'UNKNOWN_OUTCOME',
  // The caller's deadline passed before the order was sent: nothing was sent.
  'DEADLINE',
  // Broker or engine not reachable before sending: nothing was sent.
  'UNAVAILABLE',
  // A bug or broken invariant.
  'INTERNAL',
] as const;
export type OrderErrorCode = (typeof ORDER_ERROR_CODES)[number];

/** gRPC status code numbers (grpc/grpc doc/statuscodes.md); a pure lib cannot import @grpc/grpc-js. */
export const GrpcStatus = {
  OK: 0,
  CANCELLED: 1,
  UNKNOWN: 2,
  INVALID_ARGUMENT: 3,
  DEADLINE_EXCEEDED: 4,
  NOT_FOUND: 5,
  ALREADY_EXISTS: 6,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  FAILED_PRECONDITION: 9,
  ABORTED: 10,
  OUT_OF_RANGE: 11,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
  UNAVAILABLE: 14,
  DATA_LOSS: 15,
  UNAUTHENTICATED: 16,
} as const;
export type GrpcStatus = (typeof GrpcStatus)[keyof typeof GrpcStatus];

export interface StatusMapping {
  readonly grpc: GrpcStatus;
  readonly http: number;
}

export function isRiskReasonCode(code: string): code is RiskReasonCode {
  return (RISK_REASON_CODES as readonly string[]).includes(code);
}

export function isOrderErrorCode(code: string): code is OrderErrorCode {
  return (ORDER_ERROR_CODES as readonly string[]).includes(code);
}

/**
 * The gRPC and HTTP status of a domain error code. HTTP tells retryable conditions apart:
 * 429 (ORDER_RATE, QUEUE_FULL: slow down), 503 (RISK_NOT_READY, STALE_MARKET_DATA, UNAVAILABLE: try again
 * soon), 422 (a denial that holds until the account state changes). A code this build does not know
 * maps to INTERNAL/500 rather than guessing.
 */
export function mapErrorToStatus(code: OrderErrorCode | string): StatusMapping {
  if (!isOrderErrorCode(code)) return { grpc: GrpcStatus.INTERNAL, http: 500 };
  switch (code) {
    case 'INVALID_ARGUMENT':
      return { grpc: GrpcStatus.INVALID_ARGUMENT, http: 400 };
    case 'ORDER_RATE':
      return { grpc: GrpcStatus.FAILED_PRECONDITION, http: 429 };
    case 'RISK_NOT_READY':
    case 'STALE_MARKET_DATA':
      return { grpc: GrpcStatus.FAILED_PRECONDITION, http: 503 };
    case 'DAILY_LOSS_LIMIT':
    case 'MAX_LOSS_LIMIT':
    case 'MAX_POSITION':
    case 'MAX_OPEN_ORDERS':
    case 'TRADING_HOURS':
    case 'HALTED':
    case 'REDUCE_ONLY':
    case 'BROKER_REJECTED':
      return { grpc: GrpcStatus.FAILED_PRECONDITION, http: 422 };
    case 'NOT_FOUND':
      return { grpc: GrpcStatus.NOT_FOUND, http: 404 };
    case 'ALREADY_EXISTS':
      return { grpc: GrpcStatus.ALREADY_EXISTS, http: 409 };
    case 'QUEUE_FULL':
      return { grpc: GrpcStatus.RESOURCE_EXHAUSTED, http: 429 };
    case 'UNKNOWN_OUTCOME':
      return { grpc: GrpcStatus.UNKNOWN, http: 502 };
    case 'DEADLINE':
      return { grpc: GrpcStatus.DEADLINE_EXCEEDED, http: 504 };
    case 'UNAVAILABLE':
      return { grpc: GrpcStatus.UNAVAILABLE, http: 503 };
    case 'INTERNAL':
      return { grpc: GrpcStatus.INTERNAL, http: 500 };
    default: {
      const unreachable: never = code;
      return unreachable;
    }
  }
}
