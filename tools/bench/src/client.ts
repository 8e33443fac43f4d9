// A load-generator process (forked by the harness, see clients.ts): it runs the jobs sent over IPC one at a
// time and answers each with raw samples, so its CPU and memory never count as the engine's. It stays up for
// the next job until the harness goes away. Latency samples are µs, measured with process.hrtime.bigint()
// around each call (call start → answer parsed).
import { credentials, Metadata, type ServiceError } from '@grpc/grpc-js';
import { health, orders } from '@gateway/proto';
import { Pool } from 'undici';
import WebSocket from 'ws';
import { watchHubTrades } from './hub-watcher';
import { FrameLog, FrameTracker, tallyLatencies, type TradeBatch } from './tick-latency';

export interface OrderOutcome {
  ok: boolean;
  /** gRPC status code (0 ok) or HTTP status for REST. */
  code: number;
  reason: string;
  brokerOrderId: number;
  customTag: string;
}

export type ClientJob =
  | { kind: 'grpc-roundtrip'; address: string; warmup: number; count: number; strategy: string; symbol: string }
  | { kind: 'grpc-health'; address: string; warmup: number; count: number }
  | { kind: 'rest-roundtrip'; httpUrl: string; warmup: number; count: number; strategy: string; symbol: string }
  | { kind: 'bare-place'; simUrl: string; warmup: number; count: number; root: string }
  | { kind: 'grpc-batch'; address: string; warmup: number; runs: number; size: number; strategy: string; symbol: string }
  | { kind: 'grpc-load'; address: string; channels: number; perChannel: number; strategy: string; symbol: string; firstChannel: number }
  | { kind: 'order-trickle'; address: string; perSecond: number; strategy: string; symbol: string }
  | { kind: 'ws-subscribers'; url: string; count: number; subscribe: unknown[]; connectTimeoutMs: number; latency?: boolean }
  | { kind: 'hub-trades'; simUrl: string };

/** What the harness hands a ws-subscribers job with `latency` at stop: the watcher's trades and the window. */
export interface LatencyMatch {
  batches: TradeBatch[];
  /** The measurement window, µs of process.hrtime (one clock for every process of the machine). */
  fromUs: number;
  toUs: number;
}

export interface ClientResult {
  samplesUs: number[];
  outcomes: OrderOutcome[];
  /** Job-specific counters (messages received, connections open, …). */
  counters: Record<string, number>;
  errors: string[];
  /** hub-trades: every GatewayTrade message received, stamped on arrival. */
  batches?: TradeBatch[];
}

type OrderClient = InstanceType<typeof orders.OrderServiceClient>;

const nowUs = (): number => Number(process.hrtime.bigint()) / 1000;

function orderRequest(strategy: string, symbol: string, i: number): orders.OrderRequest {
  // Market orders alternating sides keep the position near flat, so the risk limits on position stay out of
  // the way; quantity 1 on a micro.
  return orders.OrderRequest.fromPartial({ symbol, side: i % 2 === 0 ? 'BUY' : 'SELL', quantity: 1, orderType: 'MARKET', strategyName: strategy });
}

function grpcClient(address: string, localPool: boolean): OrderClient {
  // A local subchannel pool gives each client its own HTTP/2 connection (otherwise grpc-js shares one
  // connection between clients of the same address in a process).
  return new orders.OrderServiceClient(address, credentials.createInsecure(), localPool ? { 'grpc.use_local_subchannel_pool': 1 } : {});
}

function placeGrpc(c: OrderClient, req: orders.OrderRequest): Promise<OrderOutcome> {
  return new Promise((resolve) => {
    c.placeOrder(req, new Metadata(), { deadline: Date.now() + 30_000 }, (err: ServiceError | null, res?: orders.OrderResponse) => {
      if (err) {
        const rc = err.metadata?.get('reason-code')[0];
        resolve({ ok: false, code: err.code, reason: `${rc ? String(rc) : ''} ${err.details}`.trim(), brokerOrderId: 0, customTag: '' });
      } else {
        resolve({ ok: res!.success, code: 0, reason: res!.reasonCode, brokerOrderId: Number(res!.brokerOrderId), customTag: res!.customTag });
      }
    });
  });
}

async function grpcRoundtrip(job: Extract<ClientJob, { kind: 'grpc-roundtrip' }>): Promise<ClientResult> {
  const c = grpcClient(job.address, false);
  const r: ClientResult = { samplesUs: [], outcomes: [], counters: {}, errors: [] };
  try {
    for (let i = 0; i < job.warmup + job.count; i++) {
      const t0 = nowUs();
      const o = await placeGrpc(c, orderRequest(job.strategy, job.symbol, i));
      const dt = nowUs() - t0;
      if (i >= job.warmup) {
        r.samplesUs.push(dt);
        r.outcomes.push(o);
      } else if (i === 0 && o.code === 12) {
        // UNIMPLEMENTED: the orders service is not there yet; stop early.
        r.outcomes.push(o);
        break;
      }
    }
  } finally {
    c.close();
  }
  return r;
}

/**
 * The floor under every RPC from this client: grpc.health.v1.Health/Check against the engine, whose
 * handler answers from memory (no thread hop, no broker). Same client library, same connection setup.
 */
async function grpcHealth(job: Extract<ClientJob, { kind: 'grpc-health' }>): Promise<ClientResult> {
  const c = new health.HealthClient(job.address, credentials.createInsecure());
  const r: ClientResult = { samplesUs: [], outcomes: [], counters: {}, errors: [] };
  const req = health.HealthCheckRequest.fromPartial({ service: '' });
  try {
    for (let i = 0; i < job.warmup + job.count; i++) {
      const t0 = nowUs();
      const err = await new Promise<ServiceError | null>((resolve) => c.check(req, (e) => resolve(e)));
      const dt = nowUs() - t0;
      if (err) {
        r.errors.push(err.message);
        break;
      }
      if (i >= job.warmup) r.samplesUs.push(dt);
    }
  } finally {
    c.close();
  }
  return r;
}

async function restRoundtrip(job: Extract<ClientJob, { kind: 'rest-roundtrip' }>): Promise<ClientResult> {
  const pool = new Pool(job.httpUrl, { connections: 1, pipelining: 1 });
  const r: ClientResult = { samplesUs: [], outcomes: [], counters: {}, errors: [] };
  try {
    for (let i = 0; i < job.warmup + job.count; i++) {
      const body = JSON.stringify(orders.OrderRequest.toJSON(orderRequest(job.strategy, job.symbol, i)));
      const t0 = nowUs();
      const res = await pool.request({ path: '/api/go/orders/place', method: 'POST', headers: { 'content-type': 'application/json' }, body });
      const text = await res.body.text();
      const dt = nowUs() - t0;
      let json: Record<string, unknown> = {};
      try {
        json = JSON.parse(text) as Record<string, unknown>;
      } catch {
        // non-JSON answer (404 page): recorded by status below
      }
      const o: OrderOutcome = {
        ok: res.statusCode === 200 && json['success'] === true,
        code: res.statusCode,
        reason: reasonOf(json),
        brokerOrderId: Number(json['brokerOrderId'] ?? json['broker_order_id'] ?? 0),
        customTag: String(json['customTag'] ?? json['custom_tag'] ?? ''),
      };
      if (i >= job.warmup) {
        r.samplesUs.push(dt);
        r.outcomes.push(o);
      } else if (i === 0 && (res.statusCode === 404 || res.statusCode === 405)) {
        r.outcomes.push(o);
        break;
      }
    }
  } finally {
    await pool.close();
  }
  return r;
}

/** The reason of a REST answer: reasonCode on an order result, else the error object's code and message. */
function reasonOf(json: Record<string, unknown>): string {
  const direct = json['reasonCode'] ?? json['reason_code'];
  if (typeof direct === 'string' && direct !== '') return direct;
  const err = json['error'];
  if (err && typeof err === 'object') {
    const e = err as Record<string, unknown>;
    return [e['reasonCode'] ?? e['code'], e['message']].filter((x) => x !== undefined).join(' ');
  }
  return typeof err === 'string' ? err : String(json['message'] ?? '');
}

interface Envelope {
  success?: boolean;
  errorCode?: number;
  token?: string;
  orderId?: number;
  contracts?: { id: string; name: string; activeContract: boolean }[];
}

async function barePlace(job: Extract<ClientJob, { kind: 'bare-place' }>): Promise<ClientResult> {
  // The engine's own path to the broker minus the engine: one keep-alive undici connection, same JSON shape
  // the executor sends (accountId, contractId, type, side, size, customTag).
  const pool = new Pool(job.simUrl, { connections: 1, pipelining: 1 });
  const r: ClientResult = { samplesUs: [], outcomes: [], counters: {}, errors: [] };
  const post = async (path: string, body: unknown, token?: string): Promise<Envelope> => {
    const headers: Record<string, string> = { 'content-type': 'application/json', accept: 'text/plain' };
    if (token) headers['authorization'] = `Bearer ${token}`;
    const res = await pool.request({ path, method: 'POST', headers, body: JSON.stringify(body) });
    const text = await res.body.text();
    if (res.statusCode !== 200) throw new Error(`${path}: HTTP ${res.statusCode}`);
    return JSON.parse(text) as Envelope;
  };
  try {
    const login = await post('/api/Auth/loginKey', { userName: 'demo', apiKey: 'demo-key' });
    if (!login.success || !login.token) throw new Error(`Auth/loginKey: errorCode ${login.errorCode}`);
    const token = login.token;
    const contracts = (await post('/api/Contract/available', { live: false }, token)).contracts ?? [];
    const contract = contracts.find((c) => c.activeContract && new RegExp(`^${job.root}[FGHJKMNQUVXZ]\\d{1,2}$`).test(c.name));
    if (!contract) throw new Error(`Contract/available: no active ${job.root}`);
    // A different account than the engine's (1002): the bare orders must not move the engine's positions.
    const accountId = 1002;
    const stamp = Math.floor(Date.now() / 1000);
    for (let i = 0; i < job.warmup + job.count; i++) {
      const body = { accountId, contractId: contract.id, type: 2, side: i % 2, size: 1, customTag: `bench-bare-${process.pid}-${i}-${stamp}` };
      const t0 = nowUs();
      const env = await post('/api/Order/place', body, token);
      const dt = nowUs() - t0;
      if (i >= job.warmup) {
        r.samplesUs.push(dt);
        r.outcomes.push({ ok: env.success === true, code: env.errorCode ?? -1, reason: '', brokerOrderId: env.orderId ?? 0, customTag: body.customTag });
      }
    }
  } catch (err) {
    r.errors.push(err instanceof Error ? err.message : String(err));
  } finally {
    await pool.close();
  }
  return r;
}

async function grpcBatch(job: Extract<ClientJob, { kind: 'grpc-batch' }>): Promise<ClientResult> {
  const c = grpcClient(job.address, false);
  const r: ClientResult = { samplesUs: [], outcomes: [], counters: { succeeded: 0, failed: 0 }, errors: [] };
  try {
    for (let run = 0; run < job.warmup + job.runs; run++) {
      const req = orders.BatchOrderRequest.fromPartial({
        orders: Array.from({ length: job.size }, (_, i) => orderRequest(job.strategy, job.symbol, i)),
      });
      const t0 = nowUs();
      const res = await new Promise<orders.BatchOrderResponse | ServiceError>((resolve) =>
        c.placeBatch(req, new Metadata(), { deadline: Date.now() + 60_000 }, (err, out) => resolve(err ?? out)),
      );
      const dt = nowUs() - t0;
      if (res instanceof Error) {
        r.errors.push(`${(res as ServiceError).code} ${(res as ServiceError).details}`);
        break;
      }
      if (run >= job.warmup) {
        r.samplesUs.push(dt);
        r.counters['succeeded']! += res.succeeded;
        r.counters['failed']! += res.failed;
        if (res.failed > 0 && r.errors.length < 3) r.errors.push(res.results.find((x) => !x.success)?.reasonCode ?? 'failed');
      }
    }
  } finally {
    c.close();
  }
  return r;
}

async function grpcLoad(job: Extract<ClientJob, { kind: 'grpc-load' }>): Promise<ClientResult> {
  const r: ClientResult = { samplesUs: [], outcomes: [], counters: {}, errors: [] };
  const clients = Array.from({ length: job.channels }, () => grpcClient(job.address, true));
  try {
    // Connect every channel first, so the timed phase is all orders in flight at once.
    await Promise.all(clients.map((c) => new Promise<void>((res, rej) => c.waitForReady(Date.now() + 60_000, (e) => (e ? rej(e) : res())))));
    const t0 = performance.now();
    await Promise.all(
      clients.map(async (c, ch) => {
        const channel = job.firstChannel + ch;
        for (let i = 0; i < job.perChannel; i++) {
          const t0 = nowUs();
          const o = await placeGrpc(c, orderRequest(job.strategy, job.symbol, i + channel));
          r.samplesUs.push(nowUs() - t0);
          r.outcomes.push(o);
        }
      }),
    );
    r.counters['wallMs'] = performance.now() - t0;
  } finally {
    for (const c of clients) c.close();
  }
  return r;
}

/** Sends `perSecond` orders a second until stopped (the soak's and steady load's order flow). */
function orderTrickle(job: Extract<ClientJob, { kind: 'order-trickle' }>): { stop(): Promise<ClientResult> } {
  const c = grpcClient(job.address, false);
  const r: ClientResult = { samplesUs: [], outcomes: [], counters: { sent: 0, ok: 0 }, errors: [] };
  let i = 0;
  const inflight = new Set<Promise<void>>();
  const timer = setInterval(() => {
    const n = i++;
    const t0 = nowUs();
    const p = placeGrpc(c, orderRequest(job.strategy, job.symbol, n)).then((o) => {
      r.samplesUs.push(nowUs() - t0);
      r.counters['sent']!++;
      if (o.ok) r.counters['ok']!++;
      else if (r.errors.length < 3) r.errors.push(`${o.code} ${o.reason}`);
      inflight.delete(p);
    });
    inflight.add(p);
  }, 1000 / job.perSecond);
  return {
    async stop() {
      clearInterval(timer);
      await Promise.all(inflight);
      c.close();
      return r;
    },
  };
}

/**
 * N WebSocket subscribers to the market-data fan-out; counts messages until stopped. With `latency`, every
 * bar frame that carries new trades is kept (FrameTracker, one per socket, receipt stamped before anything
 * else) and matched at stop against the watcher's trades the harness sends (tick-latency.ts).
 */
async function wsSubscribers(job: Extract<ClientJob, { kind: 'ws-subscribers' }>): Promise<{ ready: ClientResult; stop(match?: LatencyMatch): Promise<ClientResult> }> {
  const r: ClientResult = { samplesUs: [], outcomes: [], counters: { open: 0, failed: 0, messages: 0, bytes: 0, closedByServer: 0 }, errors: [] };
  const sockets: WebSocket[] = [];
  const frames = new FrameLog();
  let stopping = false;
  const open = (): Promise<void> =>
    new Promise((resolve) => {
      const ws = new WebSocket(job.url, { perMessageDeflate: false });
      const tracker = job.latency ? new FrameTracker() : undefined;
      sockets.push(ws);
      const timer = setTimeout(() => {
        r.counters['failed']!++;
        if (r.errors.length < 3) r.errors.push('connect timeout');
        ws.terminate();
        resolve();
      }, job.connectTimeoutMs);
      ws.once('open', () => {
        clearTimeout(timer);
        r.counters['open']!++;
        for (const m of job.subscribe) ws.send(JSON.stringify(m));
        resolve();
      });
      ws.on('message', (data: Buffer) => {
        const at = nowUs();
        r.counters['messages']!++;
        r.counters['bytes']! += data.length;
        if (tracker && !stopping) {
          const f = tracker.onFrame(data.toString(), at);
          if (f) frames.push(f);
        }
      });
      ws.once('error', (e) => {
        clearTimeout(timer);
        if (ws.readyState !== WebSocket.OPEN) r.counters['failed']!++;
        if (r.errors.length < 3) r.errors.push(e.message);
        resolve();
      });
      ws.once('close', () => {
        if (!stopping) r.counters['closedByServer']!++;
      });
    });
  // Connect in waves of 50 so a thousand handshakes do not all land in one tick.
  for (let i = 0; i < job.count; i += 50) await Promise.all(Array.from({ length: Math.min(50, job.count - i) }, open));
  const ready = { ...r, counters: { ...r.counters } };
  return {
    ready,
    async stop(match) {
      stopping = true;
      for (const ws of sockets) ws.terminate();
      if (match) {
        const t = tallyLatencies(frames.records(), match.batches, match.fromUs, match.toUs);
        r.samplesUs = t.samplesUs;
        Object.assign(r.counters, { latencyFrames: frames.length, latencyMatched: t.matched, latencyUncovered: t.uncovered, latencyMismatch: t.mismatch, latencyEarly: t.early });
      }
      return r;
    },
  };
}

/** The trade → subscriber latency's watcher (hub-watcher.ts); its batches go back to the harness at stop. */
async function hubTrades(job: Extract<ClientJob, { kind: 'hub-trades' }>): Promise<{ ready: ClientResult; stop(): Promise<ClientResult> }> {
  const w = await watchHubTrades(job.simUrl);
  const result = (batches: TradeBatch[]): ClientResult => ({ samplesUs: [], outcomes: [], counters: { contracts: w.contracts, messages: w.messages() }, errors: [...w.errors], batches });
  return {
    ready: result([]),
    async stop() {
      w.stop();
      return result(w.batches);
    },
  };
}

type Stoppable = { stop(match?: LatencyMatch): Promise<ClientResult> };

async function main(): Promise<void> {
  let running: Stoppable | undefined;
  process.on('message', (msg: { type: 'job'; job: ClientJob } | { type: 'stop'; match?: LatencyMatch }) => {
    void (async () => {
      try {
        if (msg.type === 'stop') {
          const res = running ? await running.stop(msg.match) : undefined;
          running = undefined;
          process.send!({ type: 'result', result: res });
          return;
        }
        const job = msg.job;
        switch (job.kind) {
          case 'grpc-roundtrip':
            return done(await grpcRoundtrip(job));
          case 'grpc-health':
            return done(await grpcHealth(job));
          case 'rest-roundtrip':
            return done(await restRoundtrip(job));
          case 'bare-place':
            return done(await barePlace(job));
          case 'grpc-batch':
            return done(await grpcBatch(job));
          case 'grpc-load':
            return done(await grpcLoad(job));
          case 'order-trickle':
            running = orderTrickle(job);
            process.send!({ type: 'ready' });
            return;
          case 'ws-subscribers':
          case 'hub-trades': {
            const s = job.kind === 'ws-subscribers' ? await wsSubscribers(job) : await hubTrades(job);
            running = s;
            process.send!({ type: 'ready', result: s.ready });
            return;
          }
        }
      } catch (err) {
        process.send!({ type: 'error', message: err instanceof Error ? err.message : String(err) }, () => process.exit(1));
      }
    })();
  });
  // The harness keeps this process for its next job; when the harness is gone, so is the reason to live.
  process.on('disconnect', () => process.exit(0));
  process.send!({ type: 'hello' });
}

function done(result: ClientResult): void {
  process.send!({ type: 'result', result });
}

await main();
