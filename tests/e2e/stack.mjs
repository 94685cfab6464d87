// stack.mjs - for end-to-end tests written in JavaScript: a real redis-server and a real
// omnistockd on free loopback ports in a temporary directory (as tests/harness/harness.c
// does for the C tests), with a config holding one known key per role, and a small client.
//
// Both processes run under `setpriv --pdeathsig TERM` when setpriv exists, so they stop
// even if the test process is killed (a ctest timeout); stop() stops them in order, and an
// exit handler kills whatever is still running.

import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, openSync, closeSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

const SETPRIV = '/usr/bin/setpriv';
const running = new Set();

process.on('exit', () => {
  for (const child of running) {
    try {
      child.kill('SIGKILL');
    } catch {
      // already gone
    }
  }
});

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// A port the kernel just gave to a socket on 127.0.0.1 (free again once closed).
export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

function launch(argv, logPath, env) {
  const fd = openSync(logPath, 'a');
  const [cmd, args] = existsSync(SETPRIV)
    ? [SETPRIV, ['--pdeathsig', 'TERM', '--', ...argv]]
    : [argv[0], argv.slice(1)];
  const child = spawn(cmd, args, { stdio: ['ignore', fd, fd], env: { ...process.env, ...env } });
  closeSync(fd);
  child.exited = new Promise((resolve) => {
    child.on('exit', (code, signal) => {
      running.delete(child);
      resolve({ code, signal });
    });
  });
  running.add(child);
  return child;
}

// stopChild: SIGTERM, wait up to @ms, then SIGKILL. Resolves to how it exited.
async function stopChild(child, ms) {
  if (!child || !running.has(child)) {
    return child ? child.exited : { code: 0, signal: null };
  }
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), ms);
  const how = await child.exited;
  clearTimeout(timer);
  return how;
}

function redisPing(port) {
  return new Promise((resolve) => {
    const sock = net.connect(port, '127.0.0.1');
    let answer = '';
    sock.setTimeout(500);
    sock.on('connect', () => sock.write('PING\r\n'));
    sock.on('data', (d) => {
      answer += d;
      if (answer.includes('\r\n')) {
        sock.destroy();
        resolve(answer.startsWith('+PONG'));
      }
    });
    sock.on('error', () => resolve(false));
    sock.on('timeout', () => {
      sock.destroy();
      resolve(false);
    });
  });
}

const ROLES = [
  { role: 'admin', name: 'ops' },
  { role: 'storefront', name: 'web-backend' },
  { role: 'agent', name: 'support' },
  { role: 'store', name: 'leeds-till', location: 'store-leeds' },
];

function tail(file, bytes = 4000) {
  try {
    const text = readFileSync(file, 'utf8');
    return text.slice(-bytes);
  } catch {
    return '';
  }
}

// startStack({omnistockd, redisServer}) -> {base, keys: {admin, storefront, agent, store},
// api(method, path, {key, body, headers}), daemonLog(), alive(), stop()}
export async function startStack({ omnistockd, redisServer }) {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'omnistock-e2e-'));
  const stack = { dir, redis: null, daemon: null };
  try {
    // ---- redis-server ----
    mkdirSync(path.join(dir, 'redis'));
    for (let attempt = 0; attempt < 3 && !stack.redis; attempt++) {
      const port = await freePort();
      const child = launch([redisServer, '--port', String(port), '--bind', '127.0.0.1',
        '--dir', path.join(dir, 'redis'), '--save', '', '--appendonly', 'no',
        '--daemonize', 'no', '--logfile', path.join(dir, 'redis.log')],
      path.join(dir, 'redis.out'));
      for (let i = 0; i < 250 && running.has(child); i++) {
        if (await redisPing(port)) {
          stack.redis = child;
          stack.redisPort = port;
          break;
        }
        await sleep(20);
      }
      if (!stack.redis) {
        await stopChild(child, 1000);
      }
    }
    if (!stack.redis) {
      throw new Error('redis-server did not start:\n' + tail(path.join(dir, 'redis.log')));
    }

    // ---- config with one key per role ----
    const keys = {};
    const apiKeys = ROLES.map(({ role, name, location }) => {
      keys[role] = `e2e-${role}-${randomBytes(12).toString('hex')}`;
      const k = { name, role, sha256: createHash('sha256').update(keys[role]).digest('hex') };
      if (location) {
        k.location = location;
      }
      return k;
    });
    const config = path.join(dir, 'config.json');
    writeFileSync(config, JSON.stringify({ api_keys: apiKeys }, null, 2));
    stack.keys = keys;

    // ---- omnistockd ----
    const log = path.join(dir, 'omnistockd.log');
    for (let attempt = 0; attempt < 3 && !stack.daemon; attempt++) {
      const port = await freePort();
      const child = launch([omnistockd, '--listen', `127.0.0.1:${port}`,
        '--redis', `redis://127.0.0.1:${stack.redisPort}`, '--config', config],
      log, { OMNISTOCK_DATA: path.join(dir, 'data') });
      const base = `http://127.0.0.1:${port}`;
      for (let i = 0; i < 200 && running.has(child); i++) {
        try {
          const res = await fetch(base + '/readyz', { signal: AbortSignal.timeout(1000) });
          if (res.status === 200) {
            stack.daemon = child;
            stack.base = base;
            stack.port = port;
            break;
          }
        } catch {
          // not listening yet
        }
        await sleep(50);
      }
      if (!stack.daemon) {
        await stopChild(child, 2000); // exited at start-up (port taken?) or never ready
      }
    }
    if (!stack.daemon) {
      throw new Error('omnistockd did not become ready:\n' + tail(log));
    }
  } catch (err) {
    await stopChild(stack.daemon, 5000);
    await stopChild(stack.redis, 5000);
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }

  const daemonLog = () => tail(path.join(dir, 'omnistockd.log'), 20000);

  // api(method, path, {key, body, headers}) -> {status, headers, json, text}
  async function api(method, urlPath, { key = stack.keys.admin, body, headers = {} } = {}) {
    const h = { ...headers };
    if (key) {
      h.Authorization = 'Bearer ' + key;
    }
    if (body !== undefined) {
      h['Content-Type'] = 'application/json';
    }
    const res = await fetch(stack.base + urlPath, {
      method,
      headers: h,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    let json = null;
    try {
      json = JSON.parse(text);
    } catch {
      json = null;
    }
    return { status: res.status, headers: res.headers, json, text };
  }

  // stop(): the daemon (SIGTERM, its graceful drain), then redis; removes the temp dir.
  // Resolves to the daemon's exit {code, signal}.
  async function stop() {
    const how = await stopChild(stack.daemon, 12000);
    await stopChild(stack.redis, 5000);
    rmSync(dir, { recursive: true, force: true });
    return how;
  }

  // alive(): whether the daemon is still running (a crash shows here before any timeout).
  const alive = () => running.has(stack.daemon);

  return { base: stack.base, keys: stack.keys, dir, api, daemonLog, stop, alive };
}

// argValue('--omnistockd') - the value after a flag in process.argv, or the environment's.
export function argValue(flag, envName) {
  const i = process.argv.indexOf(flag);
  if (i > 0 && i + 1 < process.argv.length) {
    return process.argv[i + 1];
  }
  return envName ? process.env[envName] || '' : '';
}
