// The fan-out's back-pressure over real loopback sockets: a client that stops reading is closed with 4008 and
// counted, while a client that reads receives every frame; quotes to a lagging client are conflated.
import { afterEach, describe, expect, it } from 'vitest';
import type { Socket } from 'node:net';
import { CLOSE_CODES, encodeTextFrame, FeedRequestError, FeedServer, type FeedSource, type OutgoingBar, type ResolvedTopic } from '../src/feed-server';
import WebSocket from 'ws';
import { Client, waitFor } from './harness';

const source: FeedSource = {
  resolve(symbol: string, timeframe: string): ResolvedTopic {
    if (symbol !== 'MNQ') throw new FeedRequestError('UNKNOWN_SYMBOL', `unknown symbol "${symbol}"`, 'symbol');
    return { key: `MNQ|${timeframe}`, contractId: 'CON.F.US.MNQ.Z26', symbol, timeframe };
  },
  snapshotFrame: (t) => Buffer.from(JSON.stringify({ type: 'snapshot', symbol: t.symbol, timeframe: t.timeframe, bars: [] })),
  currentFrame: () => undefined,
  quoteFrame: () => undefined,
};

describe('FeedServer back-pressure', () => {
  let server: FeedServer | undefined;
  const clients: Client[] = [];
  afterEach(async () => {
    for (const c of clients.splice(0)) c.ws.terminate();
    await server?.close();
  });

  it('closes a slow consumer with 4008 once it is over the byte budget; a reading subscriber is unaffected', async () => {
    const events: string[] = [];
    const budget = 256 * 1024;
    server = new FeedServer({
      host: '127.0.0.1',
      port: 0,
      source,
      maxBufferedBytes: budget,
      hooks: { disconnected: (reason) => events.push(`disconnect:${reason}`), dropped: (reason) => events.push(`drop:${reason}`) },
    });
    const port = await server.start();
    const fast = new Client(`ws://127.0.0.1:${port}`);
    const slow = new Client(`ws://127.0.0.1:${port}`);
    clients.push(fast, slow);
    await Promise.all([fast.opened, slow.opened]);
    for (const c of [fast, slow]) c.send({ op: 'subscribe', symbol: 'MNQ', timeframe: '1s' });
    await waitFor(() => fast.of('snapshot').length === 1 && slow.of('snapshot').length === 1, 5_000, 'snapshots');
    expect(server.subscribers('MNQ|1s')).toBe(2);
    // The slow client stops reading: its kernel buffers fill, then the server's unsent bytes grow.
    const raw = (slow.ws as unknown as { _socket: Socket })._socket;
    raw.pause();

    const payload = 'x'.repeat(64 * 1024);
    let published = 0;
    const deadline = Date.now() + 60_000;
    for (let batch = 0; batch < 2000 && !events.includes('disconnect:slow_consumer') && Date.now() < deadline; batch++) {
      for (let i = 0; i < 4; i++) {
        published++;
        server.publishBar('MNQ|1s', Buffer.from(`{"type":"bar","seq":${published},"pad":"${payload}"}`));
      }
      // The reading client keeps up by construction: the next batch waits until it has everything so far.
      await waitFor(() => fast.of('bar').length === published, 10_000, 'fast client caught up');
    }
    expect(events).toContain('disconnect:slow_consumer');
    expect(events).toContain('drop:slow_consumer');
    expect(events).not.toContain('disconnect:error');
    expect(server.subscribers('MNQ|1s')).toBe(1);

    // The reader keeps receiving after the drop.
    for (let i = 0; i < 3; i++) server.publishBar('MNQ|1s', Buffer.from(`{"type":"bar","seq":${++published}}`));
    await waitFor(() => fast.of('bar').length === published, 10_000, 'fast client after the drop');
    expect(fast.of('bar').map((f) => f['seq'])).toEqual(Array.from({ length: published }, (_, i) => i + 1));

    // When the slow client reads again it drains what was queued and then sees the documented close code.
    raw.resume();
    expect(await slow.closed).toBe(CLOSE_CODES.SLOW_CONSUMER);
    expect(fast.ws.readyState).toBe(fast.ws.OPEN);
  }, 90_000);

  it('conflates quotes latest-wins for a subscriber that is behind', async () => {
    const drops: string[] = [];
    server = new FeedServer({
      host: '127.0.0.1',
      port: 0,
      source,
      quoteHoldBytes: 0,
      quoteFlushMs: 10,
      maxBufferedBytes: 64 * 1024 * 1024,
      hooks: { dropped: (r) => drops.push(r) },
    });
    const port = await server.start();
    const c = new Client(`ws://127.0.0.1:${port}`);
    clients.push(c);
    await c.opened;
    c.send({ op: 'subscribe', symbol: 'MNQ', timeframe: '1s', quotes: true });
    await waitFor(() => server!.wantsQuotes('CON.F.US.MNQ.Z26'), 5_000, 'quote interest');
    // The client stops reading and big bar frames pile up past the kernel buffers, so the quotes published
    // meanwhile are held and conflated; when it reads again it gets the bars, then the latest quote.
    const raw = (c.ws as unknown as { _socket: Socket })._socket;
    raw.pause();
    const big = Buffer.from(`{"type":"bar","pad":"${'y'.repeat(1024 * 1024)}"}`);
    for (let i = 0; i < 24; i++) server.publishBar('MNQ|1s', big);
    for (let i = 1; i <= 50; i++) server.publishQuote('CON.F.US.MNQ.Z26', Buffer.from(`{"type":"quote","n":${i}}`));
    raw.resume();
    await waitFor(() => c.of('quote').some((q) => q['n'] === 50), 10_000, 'latest quote');
    const got = c.of('quote').map((q) => q['n'] as number);
    expect(got[got.length - 1]).toBe(50);
    expect(got.length).toBeLessThan(50);
    expect(drops.filter((d) => d === 'quote_conflated').length).toBe(50 - got.length);
  }, 30_000);

  it('terminates a peer that stops answering pings; a live peer stays', async () => {
    const reasons: string[] = [];
    server = new FeedServer({ host: '127.0.0.1', port: 0, source, heartbeatMs: 100, hooks: { disconnected: (r) => reasons.push(r) } });
    const port = await server.start();
    const live = new Client(`ws://127.0.0.1:${port}`);
    clients.push(live);
    const dead = new WebSocket(`ws://127.0.0.1:${port}`, { autoPong: false });
    const deadClosed = new Promise<number>((resolve) => dead.once('close', (code) => resolve(code)));
    dead.on('error', () => undefined);
    await live.opened;
    expect(await deadClosed).toBe(1006);
    expect(reasons).toEqual(['heartbeat_timeout']);
    live.send({ op: 'ping' });
    await live.waitFrame((f) => f['type'] === 'pong', 5_000, 'pong');
    expect(server.connections).toBe(1);
  }, 20_000);

  it('publishBars writes a batch in order to each subscriber of its topics and counts the sockets per frame', async () => {
    let sentFrames = 0;
    server = new FeedServer({ host: '127.0.0.1', port: 0, source, hooks: { sent: (n) => (sentFrames += n) } });
    const port = await server.start();
    const both = new Client(`ws://127.0.0.1:${port}`);
    const one = new Client(`ws://127.0.0.1:${port}`);
    clients.push(both, one);
    await Promise.all([both.opened, one.opened]);
    both.send({ op: 'subscribe', symbol: 'MNQ', timeframe: '1s' });
    both.send({ op: 'subscribe', symbol: 'MNQ', timeframe: '1m' });
    one.send({ op: 'subscribe', symbol: 'MNQ', timeframe: '1m' });
    await waitFor(() => both.of('snapshot').length === 2 && one.of('snapshot').length === 1, 5_000, 'snapshots');
    // 3 frames: one per length encoding of RFC 6455 (7-bit, 16-bit and 64-bit payload length).
    const sizes = [10, 300, 70_000];
    const batch: OutgoingBar[] = sizes.map((n, i) => ({
      key: i === 1 ? 'MNQ|1m' : 'MNQ|1s',
      frame: Buffer.from(JSON.stringify({ type: 'bar', seq: i + 1, pad: 'z'.repeat(n) })),
    }));
    batch.push({ key: 'MNQ|5m', frame: Buffer.from('{"type":"bar","seq":99}') });
    expect(server.publishBars(batch)).toBe(4);
    expect(batch.map((b) => b.sent)).toEqual([1, 2, 1, 0]);
    expect(sentFrames).toBe(4);
    await waitFor(() => both.of('bar').length === 3 && one.of('bar').length === 1, 5_000, 'bars');
    expect(both.of('bar').map((f) => [f['seq'], (f['pad'] as string).length])).toEqual([
      [1, 10],
      [2, 300],
      [3, 70_000],
    ]);
    expect(one.of('bar').map((f) => f['seq'])).toEqual([2]);
    // The connections stay usable after the direct writes (ws framing intact both ways).
    both.send({ op: 'ping' });
    await both.waitFrame((f) => f['type'] === 'pong', 5_000, 'pong');
  }, 20_000);

  it('publishBars gives a subscriber that would pass the byte budget mid-batch the frames that fit, then 4008', async () => {
    const events: string[] = [];
    server = new FeedServer({
      host: '127.0.0.1',
      port: 0,
      source,
      maxBufferedBytes: 200 * 1024,
      hooks: { disconnected: (reason) => events.push(`disconnect:${reason}`), dropped: (reason) => events.push(`drop:${reason}`) },
    });
    const port = await server.start();
    const both = new Client(`ws://127.0.0.1:${port}`);
    const a = new Client(`ws://127.0.0.1:${port}`);
    const b = new Client(`ws://127.0.0.1:${port}`);
    clients.push(both, a, b);
    await Promise.all([both.opened, a.opened, b.opened]);
    both.send({ op: 'subscribe', symbol: 'MNQ', timeframe: '1s' });
    both.send({ op: 'subscribe', symbol: 'MNQ', timeframe: '1m' });
    for (const c of [a, b]) c.send({ op: 'subscribe', symbol: 'MNQ', timeframe: '1s' });
    await waitFor(() => both.of('snapshot').length === 2 && a.of('snapshot').length === 1 && b.of('snapshot').length === 1, 5_000, 'snapshots');
    // 90 KiB each: `both` gets all three (270 KiB, over the 200 KiB budget at the third), a and b the two 1s
    // frames (180 KiB, within it; they get the same frames, so they share one write buffer).
    const pad = 'p'.repeat(90 * 1024);
    const batch: OutgoingBar[] = ['MNQ|1s', 'MNQ|1m', 'MNQ|1s'].map((key, i) => ({ key, frame: Buffer.from(`{"type":"bar","seq":${i + 1},"pad":"${pad}"}`) }));
    expect(server.publishBars(batch)).toBe(6);
    expect(batch.map((x) => x.sent)).toEqual([3, 1, 2]);
    expect(events).toEqual(['drop:slow_consumer', 'disconnect:slow_consumer']);
    expect(await both.closed).toBe(CLOSE_CODES.SLOW_CONSUMER);
    expect(both.of('bar').map((f) => f['seq'])).toEqual([1, 2]);
    await waitFor(() => a.of('bar').length === 2 && b.of('bar').length === 2, 5_000, 'bars of a and b');
    for (const c of [a, b]) expect(c.of('bar').map((f) => [f['seq'], (f['pad'] as string).length])).toEqual([
      [1, pad.length],
      [3, pad.length],
    ]);
    expect(server.subscribers('MNQ|1m')).toBe(0);
    expect(server.subscribers('MNQ|1s')).toBe(2);
  }, 20_000);

  it('closes with 4008 a client that sends requests but never reads, even when no bar is published to it', async () => {
    const events: string[] = [];
    const snapshot = Buffer.from(JSON.stringify({ type: 'snapshot', symbol: 'MNQ', timeframe: '1s', bars: [], pad: 's'.repeat(256 * 1024) }));
    let snapshots = 0;
    server = new FeedServer({
      host: '127.0.0.1',
      port: 0,
      source: { ...source, snapshotFrame: () => (snapshots++, snapshot) },
      maxBufferedBytes: 1024 * 1024,
      messageBurst: 1000,
      messagesPerSecond: 1000,
      floodTolerance: 1000,
      hooks: { disconnected: (reason) => events.push(reason) },
    });
    const port = await server.start();
    const c = new Client(`ws://127.0.0.1:${port}`);
    clients.push(c);
    await c.opened;
    (c.ws as unknown as { _socket: Socket })._socket.pause();
    // Subscribe then unsubscribe: each pair queues a 256 KiB snapshot and leaves no topic, so no bar publish
    // ever looks at this connection's unsent bytes. 200 pairs would queue 50 MiB.
    for (let i = 0; i < 200 && !events.includes('slow_consumer'); i++) {
      c.send({ op: 'subscribe', symbol: 'MNQ', timeframe: '1s' });
      c.send({ op: 'unsubscribe', symbol: 'MNQ', timeframe: '1s' });
      await waitFor(() => snapshots > i || events.includes('slow_consumer'), 10_000, `subscribe ${i} handled`);
    }
    expect(events).toEqual(['slow_consumer']);
    expect(server.connections).toBe(0);
  }, 60_000);

  it('a subscribe whose pending flush closes the subscriber does not put the closed connection back into a topic', async () => {
    const events: string[] = [];
    const big = Buffer.from(`{"type":"bar","pad":"${'f'.repeat(128 * 1024)}"}`);
    const srv: FeedServer = new FeedServer({
      host: '127.0.0.1',
      port: 0,
      // The source publishes what it holds before a subscription is added (as the app does): here a frame over
      // the budget for the topic this client already has.
      source: { ...source, flushPending: () => void srv.publishBar('MNQ|1s', big) },
      maxBufferedBytes: 64 * 1024,
      hooks: { disconnected: (reason) => events.push(reason) },
    });
    server = srv;
    const port = await srv.start();
    const c = new Client(`ws://127.0.0.1:${port}`);
    clients.push(c);
    await c.opened;
    c.send({ op: 'subscribe', symbol: 'MNQ', timeframe: '1s', snapshot: 0 });
    await c.waitFrame((f) => f['type'] === 'snapshot', 5_000, 'first snapshot');
    c.send({ op: 'subscribe', symbol: 'MNQ', timeframe: '1m', snapshot: 0 });
    await waitFor(() => events.includes('slow_consumer'), 5_000, 'slow consumer dropped');
    expect(await c.closed).toBe(CLOSE_CODES.SLOW_CONSUMER);
    expect(srv.connections).toBe(0);
    expect(srv.subscribers('MNQ|1s')).toBe(0);
    expect(srv.subscribers('MNQ|1m')).toBe(0);
  }, 20_000);

  it('a subscribe without `snapshot` gets the cache size when that is below the default 100, not an error', async () => {
    const counts: number[] = [];
    server = new FeedServer({
      host: '127.0.0.1',
      port: 0,
      maxSnapshot: 50,
      source: { ...source, snapshotFrame: (t, count) => (counts.push(count), source.snapshotFrame(t, count)) },
    });
    const port = await server.start();
    const c = new Client(`ws://127.0.0.1:${port}`);
    clients.push(c);
    await c.opened;
    c.send({ op: 'subscribe', symbol: 'MNQ', timeframe: '1m' });
    c.send({ op: 'ping' });
    await c.waitFrame((f) => f['type'] === 'pong', 5_000, 'pong');
    expect(c.of('error')).toEqual([]);
    expect(c.of('snapshot')).toHaveLength(1);
    expect(counts).toEqual([50]);
  }, 20_000);

  it('encodeTextFrame builds a final unmasked text frame with the shortest length encoding', () => {
    const small = encodeTextFrame(Buffer.from('hi'));
    expect([...small]).toEqual([0x81, 2, 0x68, 0x69]);
    const mid = encodeTextFrame(Buffer.alloc(126, 0x61));
    expect([mid[0], mid[1], mid.readUInt16BE(2), mid.length]).toEqual([0x81, 126, 126, 130]);
    const big = encodeTextFrame(Buffer.alloc(65_536, 0x61));
    expect([big[0], big[1], big.readUInt32BE(2), big.readUInt32BE(6), big.length]).toEqual([0x81, 127, 0, 65_536, 65_546]);
  });
});
