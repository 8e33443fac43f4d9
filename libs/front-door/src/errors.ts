// One mapper from the engine's stable error codes to gRPC status and HTTP status (house style §9).
// Handlers throw or return a FrontDoorError; gRPC handlers `return callback(toServiceError(err))`.
import { Metadata, status as GrpcStatus, type ServiceError } from '@grpc/grpc-js';

export type FrontDoorCode =
  | 'INVALID_ARGUMENT'
  | 'NOT_FOUND'
  | 'FAILED_PRECONDITION'
  | 'RESOURCE_EXHAUSTED'
  | 'UNAVAILABLE'
  | 'DEADLINE_EXCEEDED'
  | 'PAYLOAD_TOO_LARGE'
  | 'ALREADY_EXISTS'
  | 'ABORTED'
  | 'INTERNAL';

const MAP: Record<FrontDoorCode, { grpc: GrpcStatus; http: number }> = {
  INVALID_ARGUMENT: { grpc: GrpcStatus.INVALID_ARGUMENT, http: 400 },
  NOT_FOUND: { grpc: GrpcStatus.NOT_FOUND, http: 404 },
  FAILED_PRECONDITION: { grpc: GrpcStatus.FAILED_PRECONDITION, http: 422 },
  RESOURCE_EXHAUSTED: { grpc: GrpcStatus.RESOURCE_EXHAUSTED, http: 429 },
  UNAVAILABLE: { grpc: GrpcStatus.UNAVAILABLE, http: 503 },
  DEADLINE_EXCEEDED: { grpc: GrpcStatus.DEADLINE_EXCEEDED, http: 504 },
  PAYLOAD_TOO_LARGE: { grpc: GrpcStatus.RESOURCE_EXHAUSTED, http: 413 },
  ALREADY_EXISTS: { grpc: GrpcStatus.ALREADY_EXISTS, http: 409 },
  ABORTED: { grpc: GrpcStatus.ABORTED, http: 409 },
  INTERNAL: { grpc: GrpcStatus.INTERNAL, http: 500 },
};

/** Trailing-metadata key carrying a risk denial's reason code (DAILY_LOSS_LIMIT, …). */
export const REASON_CODE_METADATA_KEY = 'reason-code';
/** Trailing-metadata key naming the offending request field of an INVALID_ARGUMENT. */
export const FIELD_METADATA_KEY = 'field';

export class FrontDoorError extends Error {
  constructor(
    readonly code: FrontDoorCode,
    message: string,
    /** The request field at fault (INVALID_ARGUMENT). */
    readonly field?: string,
    /** A stable domain reason (risk denials: DAILY_LOSS_LIMIT, …; broker: BROKER_REJECTED). */
    readonly reasonCode?: string,
  ) {
    super(message);
    this.name = 'FrontDoorError';
  }

  get httpStatus(): number {
    return MAP[this.code].http;
  }

  get grpcStatus(): GrpcStatus {
    return MAP[this.code].grpc;
  }

  static from(err: unknown): FrontDoorError {
    if (err instanceof FrontDoorError) return err;
    const code = (err as { code?: unknown })?.code;
    if (code === 'QUEUE_FULL') return new FrontDoorError('RESOURCE_EXHAUSTED', (err as Error).message);
    if (code === 'TIMEOUT' || (err as Error)?.name === 'AbortError') return new FrontDoorError('DEADLINE_EXCEEDED', (err as Error).message);
    if (code === 'NOT_READY') return new FrontDoorError('UNAVAILABLE', (err as Error).message);
    return new FrontDoorError('INTERNAL', err instanceof Error ? err.message : String(err));
  }
}

export function toServiceError(err: unknown): Partial<ServiceError> {
  const e = FrontDoorError.from(err);
  const metadata = new Metadata();
  if (e.reasonCode) metadata.set(REASON_CODE_METADATA_KEY, e.reasonCode);
  if (e.field) metadata.set(FIELD_METADATA_KEY, e.field);
  const details = e.reasonCode && !e.message.includes(e.reasonCode) ? `${e.reasonCode}: ${e.message}` : e.message;
  return { code: e.grpcStatus, details, message: details, metadata };
}
