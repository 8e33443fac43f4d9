// Error classes of the broker client. Each carries a stable `code` string that callers switch on;
// messages never contain the token or the API key (bodies are excerpted through `redactBody`).
import type { Endpoint } from './enums';

/** Stable codes of every error this lib throws. */
export const TopstepxErrorCode = {
  Gateway: 'GATEWAY_ERROR',
  UnknownOutcome: 'UNKNOWN_OUTCOME',
  HttpStatus: 'HTTP_STATUS',
  InconsistentResponse: 'INCONSISTENT_RESPONSE',
  Auth: 'AUTH_FAILED',
  RateLimited: 'RATE_LIMITED',
  Transport: 'TRANSPORT_ERROR',
  SendDeadline: 'SEND_DEADLINE',
  Closed: 'CLIENT_CLOSED',
  Hub: 'HUB_ERROR',
} as const;
export type TopstepxErrorCode = (typeof TopstepxErrorCode)[keyof typeof TopstepxErrorCode];

/** The REST paths this client calls (the error tables' endpoints plus the unauthenticated ping). */
export type RestEndpoint = Endpoint | 'Status/ping';

export abstract class TopstepxError extends Error {
  abstract readonly code: TopstepxErrorCode;
}

/** The Gateway answered `success:false` with a definite (non-ambiguous) errorCode. */
export class GatewayError extends TopstepxError {
  readonly code = TopstepxErrorCode.Gateway;
  constructor(
    readonly endpoint: RestEndpoint,
    readonly errorCode: number,
    /** Name of `errorCode` in the endpoint's own table (§7), e.g. `OrderRejected`. */
    readonly codeName: string,
    readonly errorMessage: string | null,
    /** Set when the response carried one (a rejected place may still carry a real id). */
    readonly orderId?: number,
  ) {
    super(`${endpoint} failed: ${codeName} (${errorCode})${errorMessage ? `: ${errorMessage}` : ''}`);
    this.name = 'GatewayError';
  }
}

export type UnknownOutcomeReason =
  | 'timeout'
  | 'connection-lost'
  | 'http-status'
  | 'rate-limited'
  | 'ambiguous-code'
  | 'inconsistent-response';

/**
 * A mutation was (or may have been) sent and its outcome is unknown. Never retry it blindly: the
 * caller reconciles (for a place: `resolveOrderByTag` with the order's customTag).
 */
export class UnknownOutcomeError extends TopstepxError {
  readonly code = TopstepxErrorCode.UnknownOutcome;
  constructor(
    readonly endpoint: RestEndpoint,
    readonly reason: UnknownOutcomeReason,
    detail: string,
    readonly extra: {
      status?: number;
      errorCode?: number;
      codeName?: string;
      errorMessage?: string | null;
      orderId?: number;
      customTag?: string;
      cause?: unknown;
    } = {},
  ) {
    super(`${endpoint}: outcome unknown (${reason}): ${detail}`, extra.cause === undefined ? undefined : { cause: extra.cause });
    this.name = 'UnknownOutcomeError';
  }
}

/** An HTTP status the client does not handle (400 ProblemDetails, 404, exhausted 5xx on a read, ...). */
export class HttpStatusError extends TopstepxError {
  readonly code: TopstepxErrorCode = TopstepxErrorCode.HttpStatus;
  constructor(
    readonly endpoint: RestEndpoint,
    readonly status: number,
    /** At most 512 characters of the body, tokens redacted. */
    readonly bodyExcerpt: string,
  ) {
    super(`${endpoint}: HTTP ${status}${bodyExcerpt ? `: ${bodyExcerpt}` : ''}`);
    this.name = 'HttpStatusError';
  }
}

/** HTTP 200 with a body that breaks the envelope: `success != (errorCode == 0)`, not JSON, or a missing id. */
export class InconsistentResponseError extends HttpStatusError {
  override readonly code = TopstepxErrorCode.InconsistentResponse;
  constructor(endpoint: RestEndpoint, status: number, bodyExcerpt: string, readonly detail: string) {
    super(endpoint, status, bodyExcerpt);
    this.message = `${endpoint}: inconsistent response (${detail}): ${bodyExcerpt}`;
    this.name = 'InconsistentResponseError';
  }
}

/** Login or token refresh failed (bad credentials, no subscription, 401 after a fresh login). */
export class AuthError extends TopstepxError {
  readonly code = TopstepxErrorCode.Auth;
  constructor(
    readonly endpoint: RestEndpoint,
    detail: string,
    readonly errorCode?: number,
    readonly codeName?: string,
  ) {
    super(`${endpoint}: authentication failed: ${detail}`);
    this.name = 'AuthError';
  }
}

/**
 * Rate limited. `sent:false` means the request never left this process (the rate gate's wait
 * exceeded the request timeout): safe to try again later, even for a mutation.
 */
export class RateLimitedError extends TopstepxError {
  readonly code = TopstepxErrorCode.RateLimited;
  constructor(
    readonly endpoint: RestEndpoint,
    readonly bucket: 'general' | 'bars',
    readonly sent: boolean,
    /** How long the gate or the server asked to wait, when known. */
    readonly retryAfterMs?: number,
  ) {
    super(`${endpoint}: rate limited (${bucket}, ${sent ? 'HTTP 429' : 'not sent'})`);
    this.name = 'RateLimitedError';
  }
}

/** A read failed at the transport (connect error, reset, timeout) after its retries; or a mutation could not connect (`sent:false`). */
export class TransportError extends TopstepxError {
  readonly code = TopstepxErrorCode.Transport;
  constructor(
    readonly endpoint: RestEndpoint,
    readonly sent: boolean,
    detail: string,
    cause?: unknown,
  ) {
    super(`${endpoint}: transport error: ${detail}`, cause === undefined ? undefined : { cause });
    this.name = 'TransportError';
  }
}

/** Where a call waited when its send deadline passed (SendDeadlineError.stage). */
export type SendDeadlineStage = 'rate-budget' | 'login' | 'connection';

const STAGE_TEXT: Readonly<Record<SendDeadlineStage, string>> = {
  'rate-budget': 'waiting for a token of the rate gate',
  login: 'waiting for a login',
  connection: 'waiting for a free connection',
};

/**
 * The call's send deadline (`CallOptions.deadlineMs`) passed before its request was written: nothing was sent, so a
 * mutation may be tried again. `stage`: the wait it was in. `rate-budget`, a rate-gate wait that would end past it was
 * not waited; `login`, a login ended past it: the first one, or the re-login after an HTTP 401, whose resend is then
 * dropped (the 401'd attempt was refused by the auth layer and executed nothing); `connection`, it waited in undici's
 * queue for a free keep-alive connection (or a connect) and was aborted as undici assigned it a socket, before the
 * first byte was written.
 */
export class SendDeadlineError extends TopstepxError {
  readonly code = TopstepxErrorCode.SendDeadline;
  readonly sent = false;
  constructor(
    readonly endpoint: RestEndpoint,
    readonly stage: SendDeadlineStage,
  ) {
    super(`${endpoint}: the send deadline passed ${STAGE_TEXT[stage]}; nothing was sent`);
    this.name = 'SendDeadlineError';
  }
}

/** The client was closed. */
export class ClientClosedError extends TopstepxError {
  readonly code = TopstepxErrorCode.Closed;
  constructor(what: string) {
    super(`${what}: client closed`);
    this.name = 'ClientClosedError';
  }
}

export type HubErrorKind = 'not-connected' | 'invocation-failed' | 'invocation-timeout' | 'connection-lost' | 'handshake-failed' | 'stopped';

/** A hub operation failed. `kind` tells which. */
export class HubError extends TopstepxError {
  readonly code = TopstepxErrorCode.Hub;
  constructor(
    readonly kind: HubErrorKind,
    detail: string,
  ) {
    super(`hub ${kind}: ${detail}`);
    this.name = 'HubError';
  }
}

const TOKEN_FIELDS = /("(?:token|newToken|apiKey|access_token)"\s*:\s*")[^"]*(")/gi;

/** Excerpt a body for an error message: tokens and keys redacted, at most `max` characters. */
export function redactBody(body: string, secrets: readonly (string | undefined)[] = [], max = 512): string {
  let out = body.replace(TOKEN_FIELDS, '$1<redacted>$2');
  for (const s of secrets) if (s && s.length >= 4) out = out.split(s).join('<redacted>');
  return out.length > max ? `${out.slice(0, max)}…` : out;
}
