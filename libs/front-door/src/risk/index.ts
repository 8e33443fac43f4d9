// Front-door module of the risk service: RiskService on gRPC (proto/risk.proto) and its REST twins.
// Main thread. GetRiskState reads shared memory directly (it answers NOT_READY while the risk-manager
// thread is down, never stale numbers); Halt / Resume go to the risk-manager thread
// (supervisor.request); StreamRiskEvents and GET /api/go/risk/events relay its `risk.event` topic.
//
// REST twins (JSON; money in US dollars as doubles, like the proto):
//   GET  /api/go/risk/state?accountId=N   → AccountRiskState
//   POST /api/go/risk/halt   HaltRequest   {account_id?, reason?, flatten?}  → { state }
//   POST /api/go/risk/resume ResumeRequest {account_id?, reason?}            → { state } | 422 with the loss-limit reason code
//   GET  /api/go/risk/events?accountId=N  → text/event-stream, one `data: <RiskEvent JSON>` per event
// Both event streams end RESOURCE_EXHAUSTED once a client that has stopped reading falls behind (server-stream.ts).
// The bodies are read strictly in the proto3 JSON mapping (protoJsonFields): snake_case or lowerCamelCase, numbers
// also as strings (`"account_id": "1001"`), and an unknown field or one sent in both spellings is 400 naming it with
// nothing done: an ignored `acount_id` would act on the default account, an ignored `flaten` would halt without
// flattening.
//
// The main thread also clears the accounts' ready flags when the risk-manager thread exits: a dead writer
// cannot, and until the restarted thread has rebuilt the day every order must fail RISK_NOT_READY.
import type { ServerWritableStream, ServerUnaryCall, sendUnaryData } from '@grpc/grpc-js';
import { risk } from '@gateway/proto';
import { isRiskReasonCode } from '@gateway/orders';
import { AccountState, MONEY_SCALE, PRICE_SCALE, newAccountRecord, newMark, newPositionRecord, type SharedState } from '@gateway/shared-state';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Gauge } from 'prom-client';
import type { FrontDoorDeps } from '../deps';
import { FrontDoorError, toServiceError } from '../errors';
import { protoJsonFields, protoJsonNumber, readJson, sendError, sendJson, strictQuery } from '../http-json';
import type { FrontDoorModule } from '../module';
import { grpcServerStream, sseServerStream, type ServerStream } from '../server-stream';

const HALT_TEMPLATE = risk.HaltRequest.fromPartial({});
const RESUME_TEMPLATE = risk.ResumeRequest.fromPartial({});

/** Longest halt / resume reason accepted (characters). */
export const MAX_REASON_LENGTH = 256;

const APP = 'risk-manager';
// By the index stored in shared memory (STATE_REASONS of @gateway/risk); KILL_SWITCH is shown as HALTED.
const STATE_REASONS = ['', 'DAILY_LOSS_LIMIT', 'MAX_LOSS_LIMIT', 'HALTED', 'UNPRICED_POSITION'];
const UNLIMITED = Number.MAX_SAFE_INTEGER;

/** The `risk.event` payload of the risk-manager (RiskEvent of @gateway/risk). */
interface WorkerRiskEvent {
  type: string;
  accountId: number;
  from: string;
  to: string;
  reason: string;
  atMs: number;
  message: string;
}

type Listener = (e: risk.RiskEvent, accountId: number) => void;

const usd = (units: number): number => units / MONEY_SCALE;

/** One account's AccountRiskState from shared memory. Any thread could run it; here: the main thread. */
export function readAccountRiskState(state: SharedState, accountSlot: number, contractSlots: readonly number[]): risk.AccountRiskState {
  const a = state.accounts.readAccount(accountSlot, newAccountRecord());
  const ready = state.accounts.isReady(accountSlot) && a.state !== AccountState.NOT_READY;
  const tradingState = !ready
    ? risk.TradingState.NOT_READY
    : a.state === AccountState.ACTIVE
      ? risk.TradingState.ACTIVE
      : a.state === AccountState.REDUCING
        ? risk.TradingState.REDUCING
        : risk.TradingState.HALTED;
  const positions: risk.Position[] = [];
  let stopRisk = 0;
  const p = newPositionRecord();
  const m = newMark();
  for (const slot of contractSlots) {
    state.accounts.readPosition(accountSlot, slot, p);
    stopRisk += p.workingStopLoss;
    if (p.netSize === 0) continue;
    state.marks.read(slot, m);
    positions.push({
      contractId: state.directory.read(slot).contractId,
      netQuantity: p.netSize,
      averagePrice: p.avgPrice / PRICE_SCALE,
      ...(m.last !== 0 ? { unrealizedPnl: usd(p.unrealized), markPrice: m.last / PRICE_SCALE } : {}),
    });
  }
  const dllRemaining = a.dllLimit > 0 ? a.dllLimit + a.dayNetPnl - stopRisk : UNLIMITED;
  const mllRemaining = a.balance + a.unrealized - a.mllFloor - stopRisk;
  const day = String(a.tradingDayId);
  return {
    accountId: state.accounts.accountIdOf(accountSlot),
    tradingState,
    reason: a.state === AccountState.ACTIVE || !ready ? '' : (STATE_REASONS[a.reason] ?? ''),
    balance: usd(a.balance),
    realizedPnl: usd(a.realizedGross - a.fees),
    unrealizedPnl: usd(a.unrealized),
    netPnl: usd(a.dayNetPnl),
    mllFloor: usd(a.mllFloor),
    dailyLossLimit: usd(a.dllLimit),
    dailyLossHeadroom: dllRemaining === UNLIMITED ? 0 : usd(dllRemaining),
    mllHeadroom: usd(mllRemaining),
    positions,
    updatedAtMs: a.updatedMs,
    tradingDay: day.length === 8 ? `${day.slice(0, 4)}-${day.slice(4, 6)}-${day.slice(6)}` : '',
    openOrders: a.openOrders,
  };
}

/** Registers the clearing of the ready flags on a risk-manager exit (see the header). Main thread. */
export function clearRiskReadyOnExit(supervisor: FrontDoorDeps['supervisor'], state: SharedState, accountSlots: readonly number[]): void {
  supervisor.on('exit', (app: string) => {
    if (app !== APP) return;
    for (const slot of accountSlots) state.accounts.setReady(slot, false);
  });
}

export function createRiskModule(deps: FrontDoorDeps): FrontDoorModule {
  const { runtime, supervisor, registry } = deps;
  const state = runtime.state;
  const contractSlots = runtime.contracts.map((c) => c.slot);
  const listeners = new Set<Listener>();
  /** gRPC and server-sent-event streams alike. */
  const streams = new Set<ServerStream<risk.RiskEvent>>();
  /** What a client that fell behind is told to do. */
  const streamOptions = { what: 'risk events', recovery: 'subscribe again and read the current state with GetRiskState' };
  let sequence = 0;

  clearRiskReadyOnExit(supervisor, state, runtime.accounts.map((a) => a.slot));

  const slotOf = (accountId: number): number => {
    if (!Number.isSafeInteger(accountId) || accountId < 0) throw new FrontDoorError('INVALID_ARGUMENT', `account_id: must be a non-negative integer, got ${String(accountId)}`, 'account_id');
    if (accountId === 0) {
      const first = runtime.accounts[0];
      if (first === undefined) throw new FrontDoorError('UNAVAILABLE', 'no account configured');
      return first.slot;
    }
    const slot = state.accounts.slotOf(accountId);
    if (slot < 0) throw new FrontDoorError('NOT_FOUND', `account_id: ${accountId} is not an account of this engine`, 'account_id');
    return slot;
  };
  const stateOf = (accountId: number): risk.AccountRiskState => readAccountRiskState(state, slotOf(accountId), contractSlots);

  supervisor.on('event', (app: string, topic: string, payload: unknown) => {
    if (app !== APP || topic !== 'risk.event') return;
    const e = payload as WorkerRiskEvent;
    const slot = state.accounts.slotOf(e.accountId);
    const msg: risk.RiskEvent = {
      kind: e.type,
      reason: e.reason === 'NONE' ? '' : e.reason,
      message: e.message,
      ...(slot >= 0 ? { state: readAccountRiskState(state, slot, contractSlots) } : {}),
      timestampMs: e.atMs,
      sequence: ++sequence,
    };
    for (const l of listeners) l(msg, e.accountId);
  });

  /** Errors from the risk-manager thread keep their stable code (a loss-limit reason refuses a resume). */
  const fromWorker = (err: unknown): FrontDoorError => {
    const code = String((err as { code?: unknown } | null)?.code ?? '');
    const message = err instanceof Error ? err.message : String(err);
    if (isRiskReasonCode(code)) return new FrontDoorError(code, message);
    if (code === 'NOT_FOUND' || code === 'INVALID_ARGUMENT') return new FrontDoorError(code, message, 'account_id');
    return FrontDoorError.from(err);
  };

  /** The operator's reason is logged and journalled by the risk-manager: bounded like a strategy name. */
  const checkReason = (reason: string): void => {
    if (reason.length > MAX_REASON_LENGTH) throw new FrontDoorError('INVALID_ARGUMENT', `reason: at most ${MAX_REASON_LENGTH} characters, got ${reason.length}`, 'reason');
  };

  async function halt(accountId: number, reason: string, flatten: boolean): Promise<risk.AccountRiskState> {
    checkReason(reason);
    slotOf(accountId);
    try {
      await supervisor.request(APP, 'halt', { accountId, reason, flatten });
    } catch (err) {
      throw fromWorker(err);
    }
    return stateOf(accountId);
  }

  async function resume(accountId: number, reason: string): Promise<risk.AccountRiskState> {
    checkReason(reason);
    slotOf(accountId);
    try {
      await supervisor.request(APP, 'resume', { accountId, reason });
    } catch (err) {
      throw fromWorker(err);
    }
    return stateOf(accountId);
  }

  // Metrics computed on collect from shared memory (no timers).
  const gauge = (name: string, help: string, value: (s: risk.AccountRiskState) => number): void => {
    new Gauge({
      name,
      help,
      labelNames: ['account'],
      registers: [registry],
      collect() {
        for (const a of runtime.accounts) this.set({ account: String(a.accountId) }, value(readAccountRiskState(state, a.slot, contractSlots)));
      },
    });
  };
  gauge('risk_day_net_pnl_usd', 'Trading-day net P&L (realised − fees + unrealised), USD', (s) => s.netPnl);
  gauge('risk_headroom_usd', 'Money that can still be lost before the nearest loss limit, counting working stops, USD', (s) =>
    s.dailyLossLimit > 0 ? Math.min(s.dailyLossHeadroom, s.mllHeadroom) : s.mllHeadroom,
  );
  gauge('risk_trading_state', 'Trading state: 1 ACTIVE, 2 REDUCING, 3 HALTED, 4 NOT_READY', (s) => s.tradingState);

  const implementation: risk.RiskServiceServer = {
    getRiskState(call: ServerUnaryCall<risk.GetRiskStateRequest, risk.GetRiskStateResponse>, cb: sendUnaryData<risk.GetRiskStateResponse>) {
      try {
        cb(null, { state: stateOf(Number(call.request.accountId)) });
      } catch (err) {
        cb(toServiceError(err));
      }
    },
    streamRiskEvents(call: ServerWritableStream<risk.StreamRiskEventsRequest, risk.RiskEvent>) {
      const want = Number(call.request.accountId);
      const stream = grpcServerStream(call, {
        ...streamOptions,
        onClose: () => {
          listeners.delete(l);
          streams.delete(stream);
        },
      });
      const l: Listener = (e, accountId) => {
        if (want === 0 || want === accountId) stream.send(e);
      };
      listeners.add(l);
      streams.add(stream);
    },
    halt(call: ServerUnaryCall<risk.HaltRequest, risk.HaltResponse>, cb: sendUnaryData<risk.HaltResponse>) {
      const r = call.request;
      halt(Number(r.accountId), r.reason, r.flatten).then(
        (s) => cb(null, { state: s }),
        (err: unknown) => cb(toServiceError(err)),
      );
    },
    resume(call: ServerUnaryCall<risk.ResumeRequest, risk.ResumeResponse>, cb: sendUnaryData<risk.ResumeResponse>) {
      const r = call.request;
      resume(Number(r.accountId), r.reason).then(
        (s) => cb(null, { state: s }),
        (err: unknown) => cb(toServiceError(err)),
      );
    },
  };

  const accountParam = (url: URL): number => {
    const raw = strictQuery(url, ['accountId']).get('accountId');
    if (raw === undefined || raw === '') return 0;
    const n = protoJsonNumber(raw, 'int64', 'accountId');
    if (n < 0) throw new FrontDoorError('INVALID_ARGUMENT', `accountId: must be a non-negative integer, got "${raw}"`, 'accountId');
    return n;
  };
  /** A Halt / Resume body as its request message, read strictly (see the header); fields left out are the defaults. */
  const haltBody = async (req: IncomingMessage): Promise<risk.HaltRequest> =>
    risk.HaltRequest.fromPartial(protoJsonFields(await readJson(req), 'risk.HaltRequest', HALT_TEMPLATE) as Partial<risk.HaltRequest>);
  const resumeBody = async (req: IncomingMessage): Promise<risk.ResumeRequest> =>
    risk.ResumeRequest.fromPartial(protoJsonFields(await readJson(req), 'risk.ResumeRequest', RESUME_TEMPLATE) as Partial<risk.ResumeRequest>);

  const route = async (req: IncomingMessage, res: ServerResponse, url: URL): Promise<boolean> => {
    if (!url.pathname.startsWith('/api/go/risk/')) return false;
    const what = `${req.method ?? ''} ${url.pathname}`;
    try {
      if (what === 'GET /api/go/risk/state') {
        sendJson(res, 200, stateOf(accountParam(url)));
      } else if (what === 'POST /api/go/risk/halt') {
        const b = await haltBody(req);
        sendJson(res, 200, { state: await halt(Number(b.accountId), b.reason, b.flatten) });
      } else if (what === 'POST /api/go/risk/resume') {
        const b = await resumeBody(req);
        sendJson(res, 200, { state: await resume(Number(b.accountId), b.reason) });
      } else if (what === 'GET /api/go/risk/events') {
        const want = accountParam(url);
        if (want !== 0) slotOf(want);
        res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' });
        res.write(': risk events\n\n');
        const stream = sseServerStream<risk.RiskEvent>(res, 'risk', {
          ...streamOptions,
          onClose: () => {
            listeners.delete(l);
            streams.delete(stream);
          },
        });
        const l: Listener = (e, accountId) => {
          if (want === 0 || want === accountId) stream.send(e);
        };
        listeners.add(l);
        streams.add(stream);
      } else {
        return false;
      }
    } catch (err) {
      sendError(res, err);
    }
    return true;
  };

  const stateSchema = { $ref: '#/components/schemas/AccountRiskState' };
  const strictSchema = (message: string, properties: Record<string, unknown>): unknown => ({
    type: 'object',
    description:
      `proto ${message} in the proto JSON mapping: snake_case or lowerCamelCase field names (not both); a number may also be a ` +
      'numeric string; null is the default; an unknown field is 400 naming it, and nothing is done',
    properties,
  });
  const errors = { '400': { description: 'bad request' }, '404': { description: 'unknown account' } };
  return {
    grpc: { name: 'risk.RiskService', definition: risk.RiskServiceService, implementation },
    routes: [route],
    openapiPaths: {
      '/api/go/risk/state': {
        get: {
          summary: 'Risk state of an account (GetRiskState)',
          parameters: [{ name: 'accountId', in: 'query', schema: { type: 'integer' }, description: '0 or absent: the engine account' }],
          responses: { '200': { description: 'the state', content: { 'application/json': { schema: stateSchema } } }, ...errors },
        },
      },
      '/api/go/risk/halt': {
        post: {
          summary: 'Kill switch on (Halt): no new entries; flatten=true also cancels working orders and closes positions',
          requestBody: { content: { 'application/json': { schema: strictSchema('risk.HaltRequest', { account_id: { type: 'integer', description: '0 or absent: the engine account' }, reason: { type: 'string', maxLength: MAX_REASON_LENGTH }, flatten: { type: 'boolean' } }) } } },
          responses: { '200': { description: '{ state }' }, ...errors },
        },
      },
      '/api/go/risk/resume': {
        post: {
          summary: 'Kill switch off (Resume); 422 with the reason code while a loss limit still holds',
          requestBody: { content: { 'application/json': { schema: strictSchema('risk.ResumeRequest', { account_id: { type: 'integer', description: '0 or absent: the engine account' }, reason: { type: 'string', maxLength: MAX_REASON_LENGTH } }) } } },
          responses: { '200': { description: '{ state }' }, '422': { description: 'DAILY_LOSS_LIMIT or MAX_LOSS_LIMIT still holds (reasonCode)' }, ...errors },
        },
      },
      '/api/go/risk/events': {
        get: {
          summary:
            'Risk events as server-sent events (StreamRiskEvents): `event: risk`, `data: <RiskEvent JSON>`. A client that stops ' +
            'reading gets `event: error` with `data: {"error":{"code":"RESOURCE_EXHAUSTED",…}}` and the end of the stream',
          parameters: [{ name: 'accountId', in: 'query', schema: { type: 'integer' } }],
          responses: { '200': { description: 'text/event-stream' } },
        },
      },
    },
    openapiSchemas: {
      AccountRiskState: {
        type: 'object',
        description: 'proto risk.AccountRiskState in JSON (camelCase); money in USD',
        properties: {
          accountId: { type: 'integer' },
          tradingState: { type: 'integer', description: '1 ACTIVE, 2 REDUCING, 3 HALTED, 4 NOT_READY' },
          reason: { type: 'string' },
          balance: { type: 'number' },
          realizedPnl: { type: 'number' },
          unrealizedPnl: { type: 'number' },
          netPnl: { type: 'number' },
          mllFloor: { type: 'number' },
          dailyLossLimit: { type: 'number' },
          dailyLossHeadroom: { type: 'number' },
          mllHeadroom: { type: 'number' },
          positions: { type: 'array', items: { type: 'object' } },
          updatedAtMs: { type: 'integer' },
          tradingDay: { type: 'string' },
          openOrders: { type: 'integer' },
        },
      },
    },
    async stop() {
      for (const s of streams) s.end();
      listeners.clear();
    },
  };
}
