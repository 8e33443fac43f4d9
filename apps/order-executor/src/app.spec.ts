import { describe, expect, it } from 'vitest';
import { AuthError, GatewayError, HttpStatusError, RateLimitedError, SendDeadlineError, TransportError, UnknownOutcomeError } from '@gateway/topstepx';
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

  it("the client's send deadline passing before the write (a pool connection, a re-login, a token) is the executor's own not-sent DEADLINE", () => {
    expect(classifyPlaceError(new SendDeadlineError('Order/place', 'connection'), 1, res)).toEqual({
      outcome: 'not-sent',
      code: 'DEADLINE',
      message: 'deadline passed waiting for a free connection to the broker before the order was sent',
      reservation: res,
    });
    expect(classifyPlaceError(new SendDeadlineError('Order/place', 'login'), 1, undefined)).toEqual({
      outcome: 'not-sent',
      code: 'DEADLINE',
      message: 'deadline passed waiting for the broker login before the order was sent',
    });
    expect(classifyPlaceError(new SendDeadlineError('Order/place', 'rate-budget'), 1, undefined)).toMatchObject({ outcome: 'not-sent', code: 'DEADLINE' });
  });

  it('anything else after sending is an unknown outcome, never a retry', () => {
    expect(classifyPlaceError(new UnknownOutcomeError('Order/place', 'timeout', 'no answer'), 42, res)).toMatchObject({ outcome: 'unknown', sentAtMs: 42, reservation: res });
    expect(classifyPlaceError(new TransportError('Order/place', true, 'ECONNRESET'), 42, undefined)).toMatchObject({ outcome: 'unknown' });
    expect(classifyPlaceError(new RateLimitedError('Order/place', 'general', true), 42, undefined)).toMatchObject({ outcome: 'unknown' });
    expect(classifyPlaceError(new Error('boom'), 42, undefined)).toMatchObject({ outcome: 'unknown', message: 'boom' });
  });
});
