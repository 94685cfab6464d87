// api.js - the console's client for omnistock's /v1 API: the key as a Bearer token,
// problem+json errors turned into ApiError, and plain-language messages for people.

export class ApiError extends Error {
  // status: the HTTP status (0 when the server could not be reached);
  // problem: the RFC 9457 problem details the server sent, or null.
  constructor(status, problem, message) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.problem = problem;
  }

  get code() {
    const type = this.problem && this.problem.type;
    return typeof type === 'string' ? type.replace(/^\/problems\//, '') : '';
  }
}

// A random Idempotency-Key: a retry of the same click must not act twice.
export function idempotencyKey(prefix = 'console') {
  const bytes = new Uint8Array(12);
  crypto.getRandomValues(bytes);
  return prefix + '-' + Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

// createApi(getKey): a small client. getKey() returns the API key to send (or '').
export function createApi(getKey) {
  function headers(extra) {
    const h = { Accept: 'application/json', ...extra };
    const key = getKey();
    if (key) {
      h.Authorization = 'Bearer ' + key;
    }
    return h;
  }

  // raw(method, path, body?, extraHeaders?) -> the fetch Response; throws ApiError(0) when the
  // server cannot be reached.
  async function raw(method, path, body, extra = {}) {
    const init = { method, headers: headers(extra), cache: 'no-store' };
    if (body !== undefined) {
      init.headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
    try {
      return await fetch(path, init);
    } catch (err) {
      throw new ApiError(0, null, 'Cannot reach the omnistock server (' + err.message + ').');
    }
  }

  // request(...) -> the parsed JSON body of a 2xx answer (null for 204); throws ApiError.
  async function request(method, path, body, extra) {
    const res = await raw(method, path, body, extra);
    let data = null;
    const text = await res.text();
    if (text) {
      try {
        data = JSON.parse(text);
      } catch {
        data = null;
      }
    }
    if (!res.ok) {
      const problem = data && typeof data === 'object' ? data : null;
      throw new ApiError(res.status, problem, describeProblem(res.status, problem));
    }
    return data;
  }

  return {
    raw,
    get: (path) => request('GET', path),
    put: (path, body) => request('PUT', path, body),
    post: (path, body, extra) => request('POST', path, body, extra),
  };
}

// What went wrong, for a person reading the console.
export function describeProblem(status, problem) {
  const detail = problem && typeof problem.detail === 'string' ? problem.detail : '';
  switch (status) {
    case 401:
      return 'The server did not accept the API key (401 unauthorized). Sign in again with a valid key.';
    case 403:
      return 'Your key may not do this (403 forbidden)' + (detail ? ': ' + detail + '.' : '.');
    case 503:
      return 'The stock store is not answering right now (503). Try again in a moment.';
    default:
      return (detail || (problem && problem.title) || 'The request failed') + ' (HTTP ' + status + ').';
  }
}

// Encode one path segment (identifiers are plain, but a person may type anything).
export function seg(value) {
  return encodeURIComponent(value);
}
