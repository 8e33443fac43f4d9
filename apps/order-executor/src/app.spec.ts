import { describe, expect, it } from 'vitest';
import { AuthError, GatewayError, HttpStatusError, RateLimitedError, TransportError, UnknownOutcomeError } from '@gateway/topstepx';
import { classifyPlaceError } from './app';

const res = { accountSlot: 0, contractSlot: 1, side: 0 as const, size: 1, weight: 1, reducing: false };

describe('classifyPlaceError', () => {
  it('a broker rejection carries its code name, text and any order id', () => {
    const out = classifyPlaceError(new GatewayError('Order/place', 2, 'CustomTagInUse', 'custom tag already in use', 55), 1, res);
    expect(out).toEqual({ outcome: 'rejected', codeName: 'CustomTagInUse', message: 'CustomTagInUse: custom tag already in use', brokerOrderId: 55, reservation: res });
  });

  it('only errors that prove nothing left the process are "not sent"', () => {
    expect(classifyPlaceError(new RateLimitedError('Order/place', 'general', false), 1, undefined)).toMatchObject({ outcome: 'not-sent', code: 'ORDER_RATE' });
    expect(classifyPlaceError(new TransportError('Order/place', false, 'ECONNREFUSED'), 1, undefined)).toMatchObject({ outcome: 'not-sent', code: 'UNAVAILABLE' });
    expect(classifyPlaceError(new AuthError('Order/place', 'bad'), 1, undefined)).toMatchObject({ outcome: 'not-sent', code: 'UNAVAILABLE' });
    expect(classifyPlaceError(new HttpStatusError('Order/place', 400, 'bad body'), 1, undefined)).toMatchObject({ outcome: 'rejected', codeName: 'HTTP_400' });
  });

  it('anything else after sending is an unknown outcome, never a retry', () => {
    expect(classifyPlaceError(new UnknownOutcomeError('Order/place', 'timeout', 'no answer'), 42, res)).toMatchObject({ outcome: 'unknown', sentAtMs: 42, reservation: res });
    expect(classifyPlaceError(new TransportError('Order/place', true, 'ECONNRESET'), 42, undefined)).toMatchObject({ outcome: 'unknown' });
    expect(classifyPlaceError(new RateLimitedError('Order/place', 'general', true), 42, undefined)).toMatchObject({ outcome: 'unknown' });
    expect(classifyPlaceError(new Error('boom'), 42, undefined)).toMatchObject({ outcome: 'unknown', message: 'boom' });
  });
});
