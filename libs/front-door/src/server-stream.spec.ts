// The bound of every server stream against real transports: a grpc-js server and client on port 0, and an HTTP
// server with a raw socket for the server-sent events. The stream under test is opened with shrunk options where
// the case needs them; a case that a depth-only bound, a bound without a stall period or one without a hard cap
// would pass fails here.
import { createServer, type Server as HttpServer } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import { Client, credentials, Metadata, Server, ServerCredentials, status as GrpcStatus, type ServerWritableStream, type ServiceError } from '@grpc/grpc-js';
import { afterEach, describe, expect, it } from 'vitest';
import { grpcServerStream, sseServerStream, STREAM_MAX_UNREAD, type ServerStream, type ServerStreamOptions } from './server-stream';

interface TestMessage {
  i: number;
  pad: string;
}

const PATH = '/bound.Test/Stream';
const encode = (v: unknown): Buffer => Buffer.from(JSON.stringify(v));
const decode = (b: Buffer): TestMessage => JSON.parse(b.toString('utf8')) as TestMessage;
const definition = {
  Stream: {
    path: PATH,
    requestStream: false,
    responseStream: true,
    requestSerialize: encode,
    requestDeserialize: (b: Buffer) => JSON.parse(b.toString('utf8')) as unknown,
    responseSerialize: encode,
    responseDeserialize: decode,
  },
};
/** ~1 KB messages fill flow-control windows and socket buffers quickly. */
const PAD = 'x'.repeat(1_000);
type Bound = Partial<Pick<ServerStreamOptions, 'maxUnread' | 'stallMs' | 'hardMaxUnread' | 'now'>>;

describe('server stream bound', () => {
  const cleanup: Array<() => unknown> = [];
  afterEach(async () => {
    for (const f of cleanup.splice(0).reverse()) await f();
  });

  /** A gRPC server whose one method opens a bounded stream with `bound`; `opened` resolves with it. */
  async function grpcHarness(bound: Bound): Promise<{ client: Client; opened: Promise<{ stream: ServerStream<TestMessage>; closes: () => number }> }> {
    let resolveOpened!: (v: { stream: ServerStream<TestMessage>; closes: () => number }) => void;
    const opened = new Promise<{ stream: ServerStream<TestMessage>; closes: () => number }>((r) => (resolveOpened = r));
    const server = new Server();
    server.addService(definition, {
      Stream(call: ServerWritableStream<unknown, TestMessage>) {
        let closes = 0;
        const stream = grpcServerStream<TestMessage>(call, { what: 'test messages', recovery: 'subscribe again', onClose: () => (closes += 1), ...bound });
        resolveOpened({ stream, closes: () => closes });
      },
    });
    const port = await new Promise<number>((resolve, reject) =>
      server.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
    );
    cleanup.push(() => server.forceShutdown());
    const client = new Client(`127.0.0.1:${port}`, credentials.createInsecure());
    cleanup.push(() => client.close());
    return { client, opened };
  }

  function openStream(client: Client) {
    return client.makeServerStreamRequest(PATH, encode, decode, {}, new Metadata(), { deadline: Date.now() + 120_000 });
  }

  /** Resolves with the call's error, or 'ok' on a normal end. */
  function outcome(call: NodeJS.EventEmitter): Promise<ServiceError | 'ok'> {
    return new Promise((resolve) => {
      call.on('error', (e: ServiceError) => resolve(e));
      call.on('end', () => resolve('ok'));
    });
  }

  it('a client that reads is not ended by a burst far past the soft bound, produced in bounded chunks faster than grpc-js flushes', async () => {
    const { client, opened } = await grpcHarness({});
    const call = openStream(client);
    const got: number[] = [];
    call.on('data', (m: TestMessage) => got.push(m.i));
    const ended = outcome(call);
    const { stream } = await opened;
    const total = 10 * STREAM_MAX_UNREAD;
    let deepest = 0;
    for (let i = 0; i < total; i++) {
      expect(stream.send({ i, pad: '' })).toBe(true);
      if (i % 1_000 === 999) {
        deepest = Math.max(deepest, stream.unread);
        await new Promise((r) => setImmediate(r));
      }
    }
    // The case is only meaningful when the burst did put more than the soft bound ahead of the reader.
    expect(deepest).toBeGreaterThan(STREAM_MAX_UNREAD);
    stream.end();
    expect(await withTimeout(ended, 60_000)).toBe('ok');
    expect(got).toHaveLength(total);
    expect(got.every((v, k) => v === k)).toBe(true);
  }, 90_000);

  it('the first burst of a long-idle stream is judged from when the queue filled, not from the last message taken', async () => {
    let t = 0;
    const { client, opened } = await grpcHarness({ maxUnread: 100, stallMs: 1_000, now: () => t });
    const call = openStream(client);
    let got = 0;
    call.on('data', () => (got += 1));
    const ended = outcome(call);
    const { stream } = await opened;
    stream.send({ i: 0, pad: '' });
    await waitUntil(() => got === 1 && stream.unread === 0);
    // Idle far longer than the stall period, then a burst past the soft bound in one turn.
    t += 3_600_000;
    for (let i = 1; i <= 500; i++) expect(stream.send({ i, pad: '' })).toBe(true);
    stream.end();
    expect(await withTimeout(ended, 60_000)).toBe('ok');
    expect(got).toBe(501);
  }, 90_000);

  it('a client that stops reading is ended RESOURCE_EXHAUSTED once the connection has taken nothing for the stall period', async () => {
    const { client, opened } = await grpcHarness({ maxUnread: 64, stallMs: 200 });
    const call = openStream(client);
    call.pause();
    // Paused from the start a stream never asks grpc-js for messages: read(0) asks without consuming any.
    call.read(0);
    const ended = outcome(call);
    const { stream, closes } = await opened;
    let sent = 0;
    await waitUntil(() => {
      for (let k = 0; k < 50 && !stream.closed; k++) if (stream.send({ i: sent, pad: PAD })) sent += 1;
      return stream.closed;
    }, 60_000);
    expect(closes()).toBe(1);
    let received = 0;
    call.on('data', () => (received += 1));
    call.resume();
    const e = await withTimeout(ended, 60_000);
    expect(e === 'ok' ? 'ok' : e.code).toBe(GrpcStatus.RESOURCE_EXHAUSTED);
    expect((e as ServiceError).details).toMatch(/^slow consumer: \d+ test messages queued unread and none taken for \d+ ms; subscribe again$/);
    expect(received).toBe(sent);
  }, 90_000);

  it('the hard cap ends a stream whose client reads, once that many messages are queued unread', async () => {
    const { client, opened } = await grpcHarness({ maxUnread: 100, stallMs: 3_600_000, hardMaxUnread: 1_000 });
    const call = openStream(client);
    let received = 0;
    call.on('data', () => (received += 1));
    const ended = outcome(call);
    const { stream, closes } = await opened;
    // One turn: nothing can be taken by the connection meanwhile.
    const accepted: boolean[] = [];
    for (let i = 0; i < 1_500; i++) accepted.push(stream.send({ i, pad: '' }));
    expect(accepted.indexOf(false)).toBe(1_000);
    expect(accepted.slice(1_000).every((a) => !a)).toBe(true);
    expect(stream.closed).toBe(true);
    expect(closes()).toBe(1);
    const e = await withTimeout(ended, 60_000);
    expect(e === 'ok' ? 'ok' : e.code).toBe(GrpcStatus.RESOURCE_EXHAUSTED);
    expect((e as ServiceError).details).toBe('slow consumer: 1000 test messages queued unread (the most a stream may hold); subscribe again');
    expect(received).toBe(1_000);
  }, 90_000);

  it('server-sent events: a client that stops reading gets the RESOURCE_EXHAUSTED error event after the stall period, then the end', async () => {
    let stream: ServerStream<TestMessage> | undefined;
    const http: HttpServer = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
      res.write(': test\n\n');
      stream = sseServerStream<TestMessage>(res, 'test', { what: 'test messages', recovery: 'subscribe again', onClose: () => undefined, maxUnread: 64, stallMs: 200 });
    });
    await new Promise<void>((r) => http.listen(0, '127.0.0.1', r));
    cleanup.push(() => new Promise((r) => {
      http.close(r);
      http.closeAllConnections();
    }));
    const socket = connect((http.address() as AddressInfo).port, '127.0.0.1');
    cleanup.push(() => socket.destroy());
    let text = '';
    const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()));
    socket.on('data', (b: Buffer) => (text += b.toString('latin1')));
    socket.write('GET /events HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    await waitUntil(() => text.includes(': test') && stream !== undefined);
    socket.pause();
    // Fed until the bound ends it: first the kernel's socket buffers fill (a few MB), then the soft bound, then the stall.
    let sent = 0;
    await waitUntil(() => {
      for (let k = 0; k < 500 && !stream!.closed; k++) if (stream!.send({ i: sent, pad: PAD })) sent += 1;
      return stream!.closed;
    }, 60_000);
    socket.resume();
    await withTimeout(closed, 60_000);
    expect(text.split('\n').filter((l) => l === 'event: test').length).toBe(sent);
    expect(text).toMatch(/event: error\r?\ndata: \{"error":\{"code":"RESOURCE_EXHAUSTED","message":"slow consumer: \d+ test messages queued unread and none taken for \d+ ms; subscribe again"\}\}/);
  }, 90_000);

  it('refuses a hard cap below the soft bound', () => {
    const transportless = { write: () => true, on: () => undefined, emit: () => true, end: () => undefined } as unknown as ServerWritableStream<unknown, TestMessage>;
    expect(() => grpcServerStream(transportless, { what: 'x', recovery: 'y', onClose: () => undefined, maxUnread: 10, hardMaxUnread: 5 })).toThrow(RangeError);
  });
});

async function waitUntil(cond: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    p.finally(() => clearTimeout(timer)),
    new Promise<never>((_r, reject) => (timer = setTimeout(() => reject(new Error(`not settled within ${ms} ms`)), ms))),
  ]);
}
