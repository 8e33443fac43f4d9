import { describe, expect, it } from 'vitest';
import { GrpcStatus, mapErrorToStatus, ORDER_ERROR_CODES, RISK_REASON_CODES } from './index';

describe('mapErrorToStatus', () => {
  it.each([
    ['INVALID_ARGUMENT', 3, 400],
    ['DAILY_LOSS_LIMIT', 9, 422],
    ['MAX_LOSS_LIMIT', 9, 422],
    ['MAX_POSITION', 9, 422],
    ['MAX_OPEN_ORDERS', 9, 422],
    ['ORDER_RATE', 9, 429],
    ['TRADING_HOURS', 9, 422],
    ['HALTED', 9, 422],
    ['REDUCE_ONLY', 9, 422],
    ['STALE_MARKET_DATA', 9, 503],
    ['RISK_NOT_READY', 9, 503],
    ['NOT_FOUND', 5, 404],
    ['ALREADY_EXISTS', 6, 409],
    ['QUEUE_FULL', 8, 429],
    ['BROKER_REJECTED', 9, 422],
    ['UNKNOWN_OUTCOME', 2, 502],
    ['DEADLINE', 4, 504],
    ['UNAVAILABLE', 14, 503],
    ['INTERNAL', 13, 500],
  ] as const)('%s → gRPC %i, HTTP %i', (code, grpc, http) => {
    expect(mapErrorToStatus(code)).toEqual({ grpc, http });
  });

  it('covers every code, and every risk reason code is FAILED_PRECONDITION', () => {
    expect(ORDER_ERROR_CODES).toHaveLength(19);
    for (const code of RISK_REASON_CODES) expect(mapErrorToStatus(code).grpc).toBe(GrpcStatus.FAILED_PRECONDITION);
  });

  it('maps a code it does not know to INTERNAL/500', () => {
    expect(mapErrorToStatus('SOMETHING_NEW')).toEqual({ grpc: 13, http: 500 });
  });
});
