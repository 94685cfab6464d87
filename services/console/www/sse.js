// sse.js - Server-Sent Events over fetch(), because EventSource cannot send an
// Authorization header. SseParser follows the HTML standard's event-stream
// interpretation; LiveStream keeps one stream open, reconnects after a drop with
// Last-Event-ID, and gives up only on 401/403 or when stopped.
// No DOM use here, so node runs this module too (tests/e2e/console_stream.test.mjs).

export class SseParser {
  // onEvent({type, data, id}) for each event; onComment(text) for each ':' line (heartbeats).
  constructor(onEvent, onComment = () => {}) {
    this.onEvent = onEvent;
    this.onComment = onComment;
    this.pending = '';
    this.type = '';
    this.data = [];
    this.idBuffer = '';
    this.lastEventId = '';
    this.retry = null;
  }

  // feed(text): decoded text as it arrives, in pieces of any size.
  feed(text) {
    this.pending += text;
    const eol = /\r\n|\r|\n/g;
    let start = 0;
    let m;
    while ((m = eol.exec(this.pending)) !== null) {
      // A '\r' at the very end may be the first half of '\r\n': wait for more.
      if (m[0] === '\r' && m.index === this.pending.length - 1) {
        break;
      }
      this.line(this.pending.slice(start, m.index));
      start = m.index + m[0].length;
    }
    this.pending = this.pending.slice(start);
  }

  line(line) {
    if (line === '') {
      this.dispatch();
      return;
    }
    if (line[0] === ':') {
      this.onComment(line.slice(1).trimStart());
      return;
    }
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? '' : line.slice(colon + 1);
    if (value[0] === ' ') {
      value = value.slice(1);
    }
    switch (field) {
      case 'event':
        this.type = value;
        break;
      case 'data':
        this.data.push(value);
        break;
      case 'id':
        if (!value.includes('\0')) {
          this.idBuffer = value;
        }
        break;
      case 'retry':
        if (/^[0-9]+$/.test(value)) {
          this.retry = Number(value);
        }
        break;
      default:
        break; // unknown fields are ignored
    }
  }

  dispatch() {
    this.lastEventId = this.idBuffer;
    if (this.data.length === 0) {
      this.type = '';
      return;
    }
    const event = { type: this.type || 'message', data: this.data.join('\n'), id: this.lastEventId };
    this.type = '';
    this.data = [];
    this.onEvent(event);
  }
}

// LiveStream states, reported through onStatus(state, detail).
export const STREAM = {
  CONNECTING: 'connecting',
  OPEN: 'open',
  RETRYING: 'retrying', // dropped or refused for now; detail.delay is the wait in ms
  MISSING: 'missing', // the server has no event stream (404); retried slowly
  DENIED: 'denied', // 401 or 403: not retried; detail.status says which
  STOPPED: 'stopped',
};

export class LiveStream {
  // options: url; headers() -> extra request headers (Authorization); onEvent(event);
  // onStatus(state, detail); retryMs (first wait after a drop, default 1000); maxRetryMs
  // (default 15000); missingRetryMs (404, default 15000); idleMs (no byte, not even a
  // heartbeat, for this long means a dead connection: default 45000); fetch (for tests).
  constructor(options) {
    this.url = options.url;
    this.headers = options.headers || (() => ({}));
    this.onEvent = options.onEvent || (() => {});
    this.onStatus = options.onStatus || (() => {});
    this.retryMs = options.retryMs ?? 1000;
    this.maxRetryMs = options.maxRetryMs ?? 15000;
    this.missingRetryMs = options.missingRetryMs ?? 15000;
    this.idleMs = options.idleMs ?? 45000;
    this.fetch = options.fetch || ((...args) => fetch(...args));
    this.lastEventId = options.lastEventId || '';
    this.failures = 0;
    this.running = false;
    this.controller = null;
    this.timer = null;
    this.idleTimer = null;
  }

  start() {
    if (this.running) {
      return;
    }
    this.running = true;
    this.connect();
  }

  stop() {
    this.running = false;
    clearTimeout(this.timer);
    clearTimeout(this.idleTimer);
    if (this.controller) {
      this.controller.abort();
      this.controller = null;
    }
    this.onStatus(STREAM.STOPPED, {});
  }

  schedule(delay, state, detail = {}) {
    if (!this.running) {
      return;
    }
    clearTimeout(this.timer);
    this.onStatus(state, { ...detail, delay });
    this.timer = setTimeout(() => this.connect(), delay);
  }

  // The wait before the next attempt: the server's retry (or ours), doubled per failure.
  backoff() {
    const base = this.serverRetry ?? this.retryMs;
    const delay = Math.min(this.maxRetryMs, base * 2 ** Math.min(this.failures, 6));
    this.failures++;
    return Math.round(delay * (0.8 + Math.random() * 0.4));
  }

  armIdle(controller) {
    clearTimeout(this.idleTimer);
    this.idleTimer = setTimeout(() => controller.abort(), this.idleMs);
  }

  async connect() {
    if (!this.running) {
      return;
    }
    const controller = new AbortController();
    this.controller = controller;
    const headers = { Accept: 'text/event-stream', ...this.headers() };
    if (this.lastEventId) {
      headers['Last-Event-ID'] = this.lastEventId;
    }
    this.onStatus(STREAM.CONNECTING, { lastEventId: this.lastEventId });
    let res;
    try {
      res = await this.fetch(this.url, { headers, signal: controller.signal, cache: 'no-store' });
    } catch (err) {
      if (this.controller === controller) {
        this.schedule(this.backoff(), STREAM.RETRYING, { error: String(err && err.message) });
      }
      return;
    }
    if (this.controller !== controller) {
      return; // stopped, or restarted, meanwhile
    }
    if (res.status === 401 || res.status === 403) {
      this.running = false;
      this.onStatus(STREAM.DENIED, { status: res.status });
      return;
    }
    if (res.status === 404) {
      this.schedule(this.missingRetryMs, STREAM.MISSING, { status: 404 });
      return;
    }
    const type = res.headers.get('Content-Type') || '';
    if (!res.ok || !res.body || !type.startsWith('text/event-stream')) {
      const after = Number(res.headers.get('Retry-After'));
      const delay = after > 0 ? after * 1000 : this.backoff();
      this.schedule(delay, STREAM.RETRYING, { status: res.status });
      return;
    }
    await this.read(res, controller);
  }

  async read(res, controller) {
    const parser = new SseParser(
      (event) => {
        this.lastEventId = event.id;
        this.onEvent(event);
      },
      () => {},
    );
    const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
    this.failures = 0;
    this.onStatus(STREAM.OPEN, {});
    this.armIdle(controller);
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) {
          break;
        }
        this.armIdle(controller);
        parser.feed(value);
        if (parser.retry !== null) {
          this.serverRetry = parser.retry;
        }
      }
    } catch {
      // aborted (stop, idle) or the connection broke: both end this read
    }
    clearTimeout(this.idleTimer);
    if (this.controller === controller && this.running) {
      this.schedule(this.backoff(), STREAM.RETRYING, { dropped: true });
    }
  }
}
