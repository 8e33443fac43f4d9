#!/usr/bin/env node
// Prints live bars (with ATR, SMA and EMA) from the engine's market-data WebSocket feed.
// Usage: node tools/scripts/watch-bars.mjs [SYMBOL=MNQ] [TIMEFRAME=1m] [--url ws://127.0.0.1:8081] [--snapshot 5] [--count N] [--quotes]
// Protocol: docs/market-data-feed.md. Needs only the `ws` package.
import WebSocket from 'ws';

const args = process.argv.slice(2);
const flags = {};
const positional = [];
for (let i = 0; i < args.length; i++) {
  const a = args[i];
  if (a === '--quotes') flags.quotes = true;
  else if (a.startsWith('--')) flags[a.slice(2)] = args[++i];
  else positional.push(a);
}
const symbol = positional[0] ?? 'MNQ';
const timeframe = positional[1] ?? '1m';
const url = flags.url ?? process.env.MARKET_DATA_WS_URL ?? `ws://127.0.0.1:${process.env.MARKET_DATA_WS_PORT ?? 8081}`;
const snapshot = Number(flags.snapshot ?? 5);
const count = flags.count === undefined ? Infinity : Number(flags.count);

const fmt = (x) => (x === null || x === undefined ? '—' : Number(x).toFixed(2));
const time = (ms) => new Date(ms).toISOString().slice(11, 19);
const line = (b, label) =>
  `${time(b.t)}Z ${symbol} ${timeframe} ${label.padEnd(6)} O ${fmt(b.o)} H ${fmt(b.h)} L ${fmt(b.l)} C ${fmt(b.c)} V ${String(b.v).padStart(5)}  ATR ${fmt(b.atr)} SMA ${fmt(b.sma)} EMA ${fmt(b.ema)}`;

let seen = 0;
const ws = new WebSocket(url);
ws.on('open', () => {
  console.error(`connected to ${url}; subscribing ${symbol} ${timeframe} (Ctrl-C to stop)`);
  ws.send(JSON.stringify({ op: 'subscribe', symbol, timeframe, snapshot, quotes: flags.quotes === true }));
});
ws.on('message', (data) => {
  const m = JSON.parse(String(data));
  if (m.type === 'snapshot') {
    for (const b of m.bars) console.log(line(b, 'hist'));
  } else if (m.type === 'bar') {
    console.log(line(m, m.closed ? 'CLOSED' : 'open'));
    if (++seen >= count) ws.close(1000);
  } else if (m.type === 'quote') {
    console.log(`${time(m.t)}Z ${symbol} quote  bid ${fmt(m.bid)} ask ${fmt(m.ask)} last ${fmt(m.last)}`);
  } else if (m.type === 'error') {
    console.error(`error ${m.code}: ${m.message}`);
    process.exitCode = 2;
    ws.close(1000);
  }
});
ws.on('close', (code, reason) => {
  if (code !== 1000) {
    console.error(`closed ${code} ${String(reason)}`);
    process.exitCode = process.exitCode ?? 1;
  }
});
ws.on('error', (err) => {
  console.error(`cannot connect to ${url}: ${err.message} (is \`npm start\` running?)`);
  process.exitCode = 1;
});
process.on('SIGINT', () => ws.close(1000));
