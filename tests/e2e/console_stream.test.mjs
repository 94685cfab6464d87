// console_stream.test.mjs - the console's event-stream client (services/console/www/sse.js)
// against a scripted Server-Sent Events server in this process: parsing however the bytes
// are cut, the Authorization header, resuming with Last-Event-ID after a drop, heartbeats,
// a dead connection noticed, and 404/401 handled as the console needs.
//
//   node tests/e2e/console_stream.test.mjs

import assert from 'node:assert/strict';
import http from 'node:http';
import { after, before, test } from 'node:test';

import { LiveStream, SseParser, STREAM } from '../../services/console/www/sse.js';

function parseAll(chunks) {
  const events = [];
  const comments = [];
  const p = new SseParser((e) => events.push(e), (c) => comments.push(c));
  for (const c of chunks) {
    p.feed(c);
  }
  return { events, comments, parser: p };
}

test('the parser reads events however the text is cut', () => {
  const stream =
    ': connected\r\n\r\nretry: 2500\nid: 3-17-0\nevent: stock.changed\ndata: {"a":1,\ndata:  "b":2}\n\n' +
    'id: 3-18-0\revent: stock.low\rdata:x\r\r' +
    ': heartbeat\n\n' +
    'event: ignored-without-data\n\n' +
    'data\n\n' +
    'id: 3-19-0\r\ndata: last\r\n\r\n';
  const want = [
    { type: 'stock.changed', data: '{"a":1,\n "b":2}', id: '3-17-0' },
    { type: 'stock.low', data: 'x', id: '3-18-0' },
    { type: 'message', data: '', id: '3-18-0' },
    { type: 'message', data: 'last', id: '3-19-0' },
  ];
  // Whole, then one character at a time (every '\r\n' split across two pieces), then in threes.
  for (const chunks of [[stream], [...stream], stream.match(/[\s\S]{1,3}/g)]) {
    const { events, comments, parser } = parseAll(chunks);
    assert.deepEqual(events, want);
    assert.deepEqual(comments, ['connected', 'heartbeat']);
    assert.equal(parser.retry, 2500);
    assert.equal(parser.lastEventId, '3-19-0');
  }
});

test('the parser ignores unknown fields and an id with a NUL', () => {
  const { events } = parseAll(['id: good\nfoo: bar\ndata: 1\n\nid: b\0ad\ndata: 2\n\n']);
  assert.deepEqual(events.map((e) => e.id), ['good', 'good']);
});

// ---- a scripted server -------------------------------------------------------------------

let server;
let base;
let script = () => {}; // (req, res, n) for the n-th request
const requests = [];

before(async () => {
  server = http.createServer((req, res) => {
    requests.push({ url: req.url, headers: req.headers });
    script(req, res, requests.length);
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${server.address().port}`;
});

after(() => {
  server.closeAllConnections();
  server.close();
});

function sse(res) {
  res.writeHead(200, { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-cache' });
}

function collect(options = {}) {
  const got = { events: [], states: [] };
  const stream = new LiveStream({
    url: base + '/v1/events/stream?sku=MUG-01',
    headers: () => ({ Authorization: 'Bearer k-1' }),
    onEvent: (e) => got.events.push(e),
    onStatus: (s, d) => got.states.push([s, d]),
    retryMs: 30,
    maxRetryMs: 100,
    missingRetryMs: 50,
    ...options,
  });
  return { stream, got };
}

async function until(cond, ms = 3000) {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) {
      throw new Error('timed out waiting');
    }
    await new Promise((r) => setTimeout(r, 10));
  }
}

test('a dropped stream is resumed with Last-Event-ID and the key', async () => {
  requests.length = 0;
  script = (req, res, n) => {
    sse(res);
    if (n === 1) {
      res.write(': connected\n\nid: 1-1-0\nevent: stock.changed\ndata: {"n":1}\n\n');
      res.end('id: 1-2-0\nevent: stock.changed\ndata: {"n":2}\n\n'); // then the connection drops
    } else {
      res.write('id: 1-3-0\nevent: reservation.held\ndata: {"n":3}\n\n');
    }
  };
  const { stream, got } = collect();
  stream.start();
  await until(() => got.events.length === 3);
  stream.stop();
  assert.deepEqual(got.events.map((e) => [e.type, e.id, JSON.parse(e.data).n]),
    [['stock.changed', '1-1-0', 1], ['stock.changed', '1-2-0', 2], ['reservation.held', '1-3-0', 3]]);
  assert.equal(requests[0].headers.authorization, 'Bearer k-1');
  assert.equal(requests[0].headers.accept, 'text/event-stream');
  assert.equal(requests[0].headers['last-event-id'], undefined);
  assert.equal(requests[1].headers['last-event-id'], '1-2-0');
  assert.equal(requests[1].headers.authorization, 'Bearer k-1');
  const states = got.states.map(([s]) => s);
  assert.deepEqual(states.slice(0, 4), [STREAM.CONNECTING, STREAM.OPEN, STREAM.RETRYING, STREAM.CONNECTING]);
  assert.equal(states.at(-1), STREAM.STOPPED);
});

test('a silent connection is given up and made again; heartbeats keep one alive', async () => {
  requests.length = 0;
  script = (req, res, n) => {
    sse(res);
    if (n === 1) {
      res.write(': connected\n\n'); // and then nothing at all
    } else {
      const beat = setInterval(() => res.write(': heartbeat\n\n'), 40);
      res.on('close', () => clearInterval(beat));
    }
  };
  const { stream, got } = collect({ idleMs: 150 });
  stream.start();
  await until(() => requests.length === 2);
  await new Promise((r) => setTimeout(r, 500)); // heartbeats every 40 ms: no third connection
  stream.stop();
  assert.equal(requests.length, 2);
  assert.ok(got.states.some(([s, d]) => s === STREAM.RETRYING && d.dropped));
});

test('404 means no stream on this server yet: said, and tried again later', async () => {
  requests.length = 0;
  script = (req, res, n) => {
    if (n === 1) {
      res.writeHead(404, { 'Content-Type': 'application/problem+json' });
      res.end('{"type":"/problems/not-found","status":404}');
    } else {
      sse(res);
      res.write('id: 9-1-0\nevent: stock.out\ndata: {}\n\n');
    }
  };
  const { stream, got } = collect();
  stream.start();
  await until(() => got.events.length === 1);
  stream.stop();
  assert.equal(got.states[1][0], STREAM.MISSING);
  assert.equal(got.events[0].type, 'stock.out');
});

test('401 and 403 stop the stream, with the status, and are not retried', async () => {
  for (const status of [401, 403]) {
    requests.length = 0;
    script = (req, res) => {
      res.writeHead(status, { 'Content-Type': 'application/problem+json' });
      res.end('{}');
    };
    const { stream, got } = collect();
    stream.start();
    await until(() => got.states.some(([s]) => s === STREAM.DENIED));
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(requests.length, 1);
    assert.deepEqual(got.states.at(-1), [STREAM.DENIED, { status }]);
    stream.stop();
  }
});

test('503 waits as long as Retry-After says', async () => {
  requests.length = 0;
  script = (req, res, n) => {
    if (n === 1) {
      res.writeHead(503, { 'Retry-After': '1', 'Content-Type': 'application/problem+json' });
      res.end('{}');
    } else {
      sse(res);
      res.write('data: ok\n\n');
    }
  };
  const { stream, got } = collect();
  const started = Date.now();
  stream.start();
  await until(() => got.events.length === 1);
  stream.stop();
  assert.deepEqual(got.states[1], [STREAM.RETRYING, { status: 503, delay: 1000 }]);
  assert.ok(Date.now() - started >= 950);
});
