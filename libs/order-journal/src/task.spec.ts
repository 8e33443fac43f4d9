// The executor's "not sent: deadline" answer to a broker call must not be confused with a broker error that carries
// the same code: only the former proves that nothing left the process.
import { describe, expect, it } from 'vitest';
import { isRestNotSentDeadline, type RestResult } from './task';

describe('isRestNotSentDeadline', () => {
  it("is true only for the executor's own deadline answer", () => {
    const notSent: RestResult = { ok: false, code: 'DEADLINE', notSent: true, message: 'the deadline passed in the executor queue before cancelOrder was sent' };
    expect(isRestNotSentDeadline(notSent)).toBe(true);
    // A failure mapped from an error (e.g. an aborted run) has the code but says nothing about the send.
    expect(isRestNotSentDeadline({ ok: false, code: 'DEADLINE', message: 'aborted' })).toBe(false);
    expect(isRestNotSentDeadline({ ok: false, code: 'UNKNOWN_OUTCOME', message: 'timeout' })).toBe(false);
    expect(isRestNotSentDeadline({ ok: true, value: null })).toBe(false);
  });
});
