// Errors of the front door carry the engine's stable domain codes (@gateway/orders ORDER_ERROR_CODES:
// INVALID_ARGUMENT, the risk reason codes, NOT_FOUND, QUEUE_FULL, …); the one mapper
// `mapErrorToStatus` turns a code into gRPC and HTTP status (house style §9). gRPC handlers
// `return callback(toServiceError(err))`; REST twins call sendError.
import { Metadata, type ServiceError } from '@grpc/grpc-js';
import { isRiskReasonCode, mapErrorToStatus, type OrderErrorCode } from '@gateway/orders';

/** Trailing-metadata key carrying a risk denial's reason code (DAILY_LOSS_LIMIT, …). */
export const REASON_CODE_METADATA_KEY = 'reason-code';
/** Trailing-metadata key naming the offending request field of an INVALID_ARGUMENT. */
export const FIELD_METADATA_KEY = 'field';

export class FrontDoorError extends Error {
  constructor(
    readonly code: OrderErrorCode,
    message: string,
    /** The request field at fault (INVALID_ARGUMENT). */
    readonly field?: string,
    /** Extra trailing metadata (e.g. `order-id` of an UNKNOWN_OUTCOME). */
    readonly metadata?: Readonly<Record<string, string>>,
  ) {
    super(message);
    this.name = 'FrontDoorError';
  }

  /** The risk reason code when this is a risk denial. */
  get reasonCode(): string | undefined {
    return isRiskReasonCode(this.code) || this.code === 'BROKER_REJECTED' ? this.code : undefined;
  }

  get httpStatus(): number {
    return mapErrorToStatus(this.code).http;
  }

  get grpcStatus(): number {
    return mapErrorToStatus(this.code).grpc;
  }

  /** Any error as a FrontDoorError: known codes (queue full, timeouts, not ready) keep their meaning. */
  static from(err: unknown): FrontDoorError {
    if (err instanceof FrontDoorError) return err;
    const code = (err as { code?: unknown } | null)?.code;
    const message = err instanceof Error ? err.message : String(err);
    if (code === 'QUEUE_FULL') return new FrontDoorError('QUEUE_FULL', message);
    if (code === 'TIMEOUT' || (err as Error | null)?.name === 'AbortError') return new FrontDoorError('DEADLINE', message);
    if (code === 'NOT_READY') return new FrontDoorError('UNAVAILABLE', message);
    return new FrontDoorError('INTERNAL', message);
  }
}

/**
 * Longest details of a gRPC error. They travel percent-encoded in a trailer: one of ~100 KB (an echoed
 * 100,000-character symbol) never reached the client, whose call and channel then hung.
 */
export const MAX_ERROR_DETAILS_CHARS = 2_048;

function capDetails(text: string): string {
  if (text.length <= MAX_ERROR_DETAILS_CHARS) return text;
  let end = MAX_ERROR_DETAILS_CHARS;
  // Never cut a surrogate pair: grpc-js encodeURI()s the details and throws on a lone surrogate.
  const last = text.charCodeAt(end - 1);
  if (last >= 0xd800 && last <= 0xdbff) end -= 1;
  return `${text.slice(0, end)}… (${text.length - end} more characters)`;
}

export function toServiceError(err: unknown): Partial<ServiceError> {
  const e = FrontDoorError.from(err);
  const metadata = new Metadata();
  const reason = e.reasonCode;
  if (reason) metadata.set(REASON_CODE_METADATA_KEY, reason);
  if (e.field) metadata.set(FIELD_METADATA_KEY, e.field);
  for (const [k, v] of Object.entries(e.metadata ?? {})) metadata.set(k, v);
  // The reason code leads the message so that a client that only prints details still sees it.
  const details = capDetails(reason && !e.message.startsWith(reason) ? `${reason}: ${e.message}` : e.message);
  return { code: e.grpcStatus, details, message: details, metadata };
}
