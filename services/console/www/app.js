// app.js - the omnistock console: sign in with an API key, look a product up and watch its
// stock change live, its history, reservations, recommendations and customer preferences.
// Everything shown comes from the /v1 API (proto/openapi.yaml); nothing is inserted as HTML.

import { ApiError, createApi, idempotencyKey, seg } from './api.js';
import { renderHistoryChart, legendItems } from './chart.js';
import { LiveStream, STREAM } from './sse.js';

const KEY_STORAGE = 'omnistock.console.key';
const ID_RE = /^[A-Za-z0-9._-]{1,64}$/;
const ID_RULE = "1 to 64 letters, digits, '.', '_' or '-'";

const ROLE_MAY = {
  admin: 'may do everything: stock, movements, products, locations, reservations, customers',
  storefront: 'may read stock and products, hold, commit, release and extend reservations, and ask for recommendations',
  agent: 'may read everything, release and extend reservations, and look after customer preferences',
  store: 'may read stock, record movements and hand over reservations at its own store only',
};
const CAN = {
  products: ['storefront', 'agent', 'admin'],
  locations: ['storefront', 'agent', 'admin'],
  recommendations: ['storefront', 'agent', 'admin'],
  preferences: ['agent', 'admin'],
};
const CHANNEL_NAME = { web: 'web (delivery)', click_collect: 'click & collect', store: 'in store (walk-in)' };

const state = {
  key: '',
  role: '',
  storeLocation: '', // a store key's location (GET /v1/me)
  locations: new Map(), // id -> {id, name, type, fulfils, store_buffer}
  sku: '',
  stock: null,
  values: new Map(), // what the figures showed last, to mark the ones that change
  nextValues: new Map(), // what they show now, while being drawn
  historyEvents: null, // the ledger last drawn, to redraw the chart when the width changes
  stream: null,
  refreshTimer: 0,
  historyTimer: 0,
  refreshSeq: 0,
  reservation: null,
};

const api = createApi(() => state.key);
const $ = (id) => document.getElementById(id);

// ---- small helpers ----------------------------------------------------------------------

function h(tag, props = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (v === undefined || v === null || v === false) {
      continue;
    }
    if (k === 'class') {
      e.className = v;
    } else if (k === 'dataset') {
      Object.assign(e.dataset, v);
    } else {
      e.setAttribute(k, v === true ? '' : String(v));
    }
  }
  for (const c of children.flat()) {
    if (c !== null && c !== undefined && c !== false) {
      e.append(c instanceof Node ? c : String(c));
    }
  }
  return e;
}

function say(id, text, kind = '') {
  const e = $(id);
  e.textContent = text;
  e.classList.toggle('error', kind === 'error');
  e.classList.toggle('ok', kind === 'ok');
}

function can(what) {
  return CAN[what].includes(state.role);
}

function locName(id) {
  const l = state.locations.get(id);
  return l && l.name ? `${l.name} (${id})` : id;
}

function shortTime(iso) {
  const t = Date.parse(iso);
  return Number.isNaN(t) ? String(iso || '') : new Date(t).toISOString().slice(11, 19);
}

function dateTime(iso) {
  const t = Date.parse(iso);
  return Number.isNaN(t) ? String(iso || '') : new Date(t).toISOString().replace('T', ' ').slice(0, 19) + ' UTC';
}

function money(price) {
  if (!price || typeof price.amount !== 'number') {
    return '';
  }
  try {
    return new Intl.NumberFormat('en-GB', { style: 'currency', currency: price.currency }).format(price.amount / 100);
  } catch {
    return `${(price.amount / 100).toFixed(2)} ${price.currency}`;
  }
}

// Errors that mean "sign in again" end the session; the others are shown where they happened.
function failed(err, messageId) {
  if (err instanceof ApiError && err.status === 401) {
    signOut('Your key is no longer accepted (401 unauthorized). Sign in again.');
    return;
  }
  say(messageId, err instanceof ApiError ? err.message : 'Something went wrong: ' + err, 'error');
}

// ---- sign in -------------------------------------------------------------------------------

// The key's role (and a store key's store) from GET /v1/me, then the locations it may list.
async function detectRole() {
  const res = await api.raw('GET', '/v1/me');
  if (res.status === 401) {
    throw new ApiError(401, null, 'The server does not know this key (401 unauthorized). Check it and try again.');
  }
  if (!res.ok) {
    throw new ApiError(res.status, null, `The server could not check the key (HTTP ${res.status}). Try again.`);
  }
  const me = await res.json();
  if (me.role === 'store') {
    return { role: 'store', store: me.location || '', locations: [] }; // stores may not list locations
  }
  const list = await api.raw('GET', '/v1/locations');
  if (!list.ok) {
    throw new ApiError(list.status, null, `The server could not list the locations (HTTP ${list.status}). Try again.`);
  }
  return { role: me.role, store: '', locations: (await list.json()).locations || [] };
}

async function signIn(key, quiet) {
  state.key = key;
  const button = $('signin-button');
  button.disabled = true;
  say('signin-error', '');
  try {
    const found = await detectRole();
    state.role = found.role;
    state.storeLocation = found.store;
    state.locations = new Map(found.locations.map((l) => [l.id, l]));
    sessionStorage.setItem(KEY_STORAGE, key);
    showApp();
    const m = /^#sku=([^&]+)/.exec(location.hash);
    if (m) {
      const sku = decodeURIComponent(m[1]);
      $('sku-input').value = sku;
      openSku(sku);
    }
    $('sku-input').focus();
  } catch (err) {
    state.key = '';
    sessionStorage.removeItem(KEY_STORAGE);
    if (!quiet || !(err instanceof ApiError && err.status === 401)) {
      say('signin-error', err instanceof ApiError ? err.message : String(err), 'error');
    }
    $('api-key').focus();
  } finally {
    button.disabled = false;
  }
}

function showRole() {
  $('role-name').textContent = state.role;
  let detail = ROLE_MAY[state.role] || '';
  if (state.role === 'store') {
    detail = `the till at ${locName(state.storeLocation)}: ` + detail;
  }
  $('role-detail').textContent = '— ' + detail + '.';
}

function showApp() {
  $('signin-section').hidden = true;
  $('session').hidden = false;
  $('nav').hidden = false;
  $('app').hidden = false;
  showRole();
  for (const e of document.querySelectorAll('[data-needs]')) {
    e.hidden = !can(e.dataset.needs);
  }
  fillLocationSelects();
}

function signOut(message = '') {
  stopStream();
  state.key = '';
  state.role = '';
  state.storeLocation = '';
  state.sku = '';
  state.stock = null;
  state.values = new Map();
  sessionStorage.removeItem(KEY_STORAGE);
  $('app').hidden = true;
  $('nav').hidden = true;
  $('session').hidden = true;
  $('product-view').hidden = true;
  $('resv-view').hidden = true;
  $('rec-view').hidden = true;
  $('prefs-form').hidden = true;
  for (const id of ['sku-message', 'resv-message', 'rec-message', 'cust-message']) {
    say(id, '');
  }
  $('signin-section').hidden = false;
  $('api-key').value = '';
  say('signin-error', message, message ? 'error' : '');
  $('api-key').focus();
}

// ---- stock ---------------------------------------------------------------------------------

async function openSku(raw) {
  const sku = raw.trim();
  if (!ID_RE.test(sku)) {
    say('sku-message', `A SKU is ${ID_RULE}.`, 'error');
    $('sku-input').focus();
    return;
  }
  stopStream();
  state.sku = sku;
  state.stock = null;
  state.values = new Map();
  say('sku-message', `Looking up ${sku}…`);
  let stock;
  let product = null;
  let hist = { events: [] };
  try {
    [stock, product, hist] = await Promise.all([
      api.get(`/v1/stock/${seg(sku)}?explain=true`),
      can('products') ? api.get(`/v1/products/${seg(sku)}`).catch(() => null) : null,
      api.get(`/v1/stock/${seg(sku)}/history?limit=200`).catch(() => ({ events: [] })),
    ]);
  } catch (err) {
    if (state.sku !== sku) {
      return;
    }
    $('product-view').hidden = true;
    if (err instanceof ApiError && err.status === 404) {
      say('sku-message', `No product has the SKU “${sku}”.`, 'error');
    } else {
      failed(err, 'sku-message');
    }
    return;
  }
  if (state.sku !== sku) {
    return; // another search started meanwhile
  }
  window.history.replaceState(null, '', '#sku=' + encodeURIComponent(sku));
  renderProduct(sku, product);
  $('updates').replaceChildren();
  $('product-view').hidden = false; // first, so that the chart knows its width
  renderStock(stock, true);
  renderHistory(hist.events || []);
  say('sku-message', `Showing ${sku}.`);
  if (!$('rec-sku').value) {
    $('rec-sku').value = sku;
  }
  startStream(sku);
}

function renderProduct(sku, product) {
  $('product-title').textContent = product ? `${product.name} (${sku})` : sku;
  if (product) {
    $('product-facts').textContent =
      `Category ${product.category} · ${money(product.price)} · safety stock ${product.safety_stock} per location`;
  } else {
    $('product-facts').textContent = can('products') ? '' : 'Product details need a storefront, agent or admin key.';
  }
}

// The figures, marked when they changed since they were last shown.
function figure(tag, key, value, props = {}) {
  const e = h(tag, props, String(value));
  const before = state.values.get(key);
  state.nextValues.set(key, value);
  if (before !== undefined && before !== value) {
    e.classList.add('changed');
  }
  return e;
}

function renderStock(stock, fresh) {
  if (fresh) {
    state.values = new Map();
  }
  state.nextValues = new Map();
  const open = new Set([...document.querySelectorAll('#channels details[open]')].map((d) => d.dataset.key));
  const focused = document.activeElement && document.activeElement.closest('#channels details');
  const focusKey = focused ? focused.dataset.key : '';

  $('locations-body').replaceChildren(
    ...stock.locations.map((l) => {
      const info = state.locations.get(l.location);
      const meta = info
        ? `${info.type}${info.store_buffer ? `, store buffer ${info.store_buffer}` : ''}; fulfils ${info.fulfils.map((c) => CHANNEL_NAME[c] || c).join(', ')}`
        : '';
      const cell = (field) =>
        figure('td', `${l.location}/${field}`, l[field], {
          class: 'num',
          dataset: { location: l.location, field },
        });
      return h('tr', { dataset: { location: l.location } },
        h('th', { scope: 'row' },
          h('span', { class: 'loc-name' }, info && info.name ? info.name : l.location),
          h('span', { class: 'loc-meta' }, info && info.name ? `${l.location} · ${meta}` : meta)),
        cell('on_hand'), cell('reserved'), cell('safety_stock'), cell('available'));
    }),
  );
  $('channels').replaceChildren(...renderChannels(stock.channels || {}));
  for (const d of document.querySelectorAll('#channels details')) {
    d.open = open.has(d.dataset.key);
    if (d.dataset.key === focusKey) {
      d.querySelector('summary').focus();
    }
  }
  state.values = state.nextValues;
  state.stock = stock;
}

function explainLine(x) {
  const terms = [`${x.on_hand} on hand`, `− ${x.reserved} reserved`];
  if ('safety_stock' in x) {
    terms.push(`− ${x.safety_stock} safety stock`);
  }
  if ('store_buffer' in x) {
    terms.push(`− ${x.store_buffer} store buffer`);
  }
  const raw = x.on_hand - x.reserved - (x.safety_stock || 0) - (x.store_buffer || 0);
  const result = raw < 0 ? `= ${x.available} (never below zero)` : `= ${x.available}`;
  return h('li', {}, `${locName(x.location)}: ${terms.join(' ')} ${result}`);
}

function explainBlock(key, fig) {
  if (!Array.isArray(fig.explain)) {
    return null;
  }
  const items = fig.explain.map(explainLine);
  for (const ex of fig.excluded || []) {
    items.push(h('li', { class: 'excluded' }, `${locName(ex.location)}: not counted (${ex.reason}).`));
  }
  return h('details', { class: 'explain', dataset: { key } },
    h('summary', {}, 'How is this worked out?'),
    h('ul', {}, items));
}

function renderChannels(channels) {
  const cards = [];
  if (channels.web) {
    cards.push(h('div', { class: 'channel' },
      h('h5', {}, 'Web (delivery)'),
      h('p', { class: 'channel-note' }, 'Delivered from a warehouse, or shipped from a store that fulfils web.'),
      h('div', { class: 'figure-line' },
        h('span', {}, 'Available to promise'),
        figure('span', 'web', channels.web.available, {
          class: 'figure-value',
          dataset: { channel: 'web', field: 'available' },
        })),
      explainBlock('web', channels.web)));
  }
  const perStore = (channel, title, note) => {
    const entries = Object.entries(channels[channel] || {});
    if (entries.length === 0) {
      return null;
    }
    return h('div', { class: 'channel' },
      h('h5', {}, title),
      h('p', { class: 'channel-note' }, note),
      h('ul', {}, entries.map(([loc, fig]) => h('li', {},
        h('div', { class: 'figure-line' },
          h('span', {}, locName(loc)),
          figure('span', `${channel}/${loc}`, fig.available, {
            class: 'figure-value',
            dataset: { channel, location: loc, field: 'available' },
          })),
        explainBlock(`${channel}/${loc}`, fig)))));
  };
  cards.push(perStore('click_collect', 'Click & collect',
    'Ordered online, picked up at the store: the store buffer and safety stock are kept back.'));
  cards.push(perStore('store', 'In store (walk-in)',
    'At the till: everything on the shelf that is not reserved can be sold.'));
  return cards.filter(Boolean);
}

function renderHistory(events) {
  state.historyEvents = events;
  const names = new Map([...state.locations.values()].map((l) => [l.id, l.name]));
  const summary = renderHistoryChart($('history-chart'), events, names);
  $('history-summary').textContent = summary;
  $('history-legend').replaceChildren(
    ...legendItems(events).map((item) => {
      const svg = document.createElementNS('http://www.w3.org/2000/svg', 'svg');
      svg.setAttribute('viewBox', '0 0 36 12');
      svg.setAttribute('aria-hidden', 'true');
      const line = document.createElementNS('http://www.w3.org/2000/svg', 'line');
      for (const [k, v] of Object.entries({ x1: 0, x2: 36, y1: 6, y2: 6, stroke: item.colour, 'stroke-width': 3 })) {
        line.setAttribute(k, String(v));
      }
      if (item.dash) {
        line.setAttribute('stroke-dasharray', item.dash);
      }
      svg.append(line);
      return h('li', {}, svg, locName(item.location));
    }),
  );
  $('history-body').replaceChildren(
    ...events.slice(0, 20).map((e) =>
      h('tr', {},
        h('td', {}, dateTime(e.at)),
        h('td', {}, locName(e.location || '')),
        h('td', {}, describeEvent(e)),
        h('td', { class: 'num' }, e.levels ? String(e.levels.on_hand) : ''),
        h('td', { class: 'num' }, e.levels ? String(e.levels.reserved) : ''))),
  );
}

async function refreshStock() {
  const sku = state.sku;
  const seq = ++state.refreshSeq;
  if (!sku) {
    return;
  }
  try {
    const stock = await api.get(`/v1/stock/${seg(sku)}?explain=true`);
    if (sku !== state.sku || seq !== state.refreshSeq) {
      return;
    }
    if (!state.stock || !(stock.version < state.stock.version)) {
      renderStock(stock, false);
    }
  } catch (err) {
    if (sku === state.sku) {
      failed(err, 'sku-message');
    }
  }
}

async function refreshHistory() {
  const sku = state.sku;
  try {
    const hist = await api.get(`/v1/stock/${seg(sku)}/history?limit=200`);
    if (sku === state.sku) {
      renderHistory(hist.events || []);
    }
  } catch {
    // the figures matter more; the next change redraws the chart
  }
}

function scheduleRefresh() {
  clearTimeout(state.refreshTimer);
  state.refreshTimer = setTimeout(refreshStock, 60);
  clearTimeout(state.historyTimer);
  state.historyTimer = setTimeout(refreshHistory, 500);
}

// ---- live updates --------------------------------------------------------------------------

const MOVEMENT_TEXT = {
  receipt: (m) => `received ${m.quantity}`,
  sale: (m) => `sold ${m.quantity}`,
  return: (m) => `${m.quantity} returned`,
  adjustment: (m) => `adjusted by ${m.quantity > 0 ? '+' : ''}${m.quantity}`,
  count: (m) => `counted: ${m.quantity}`,
  transfer_out: (m) => `sent ${m.quantity} to ${locName(m.to_location || '')}`,
  transfer_in: (m) => `received ${m.quantity} from ${locName(m.from_location || '')}`,
};
const EVENT_TEXT = {
  'stock.low': 'low stock',
  'stock.out': 'nothing left to promise',
  'stock.back': 'available again',
  'stock.shortfall': 'on hand fell below what is reserved',
};

function describeEvent(e) {
  const type = e.type || '';
  if (type === 'stock.changed' && e.movement && MOVEMENT_TEXT[e.movement.type]) {
    return MOVEMENT_TEXT[e.movement.type](e.movement) + (e.movement.reason ? ` (${e.movement.reason})` : '');
  }
  if (EVENT_TEXT[type]) {
    return EVENT_TEXT[type];
  }
  if (type.startsWith('reservation.')) {
    const what = type.slice('reservation.'.length);
    return `reservation ${e.reservation || ''} ${what}${e.quantity ? ` (${e.quantity})` : ''}`;
  }
  return type;
}

function applyLevels(e) {
  const stock = state.stock;
  if (!stock || !e.location || !e.levels) {
    return;
  }
  if (typeof e.version === 'number' && e.version < stock.version) {
    return; // older than what is shown
  }
  const row = stock.locations.find((l) => l.location === e.location);
  if (!row) {
    return;
  }
  for (const field of ['on_hand', 'reserved', 'available']) {
    if (typeof e.levels[field] === 'number') {
      row[field] = e.levels[field];
    }
  }
  if (typeof e.version === 'number') {
    stock.version = e.version;
  }
  renderStock(stock, false);
}

function addUpdate(e) {
  const levels = e.levels
    ? ` Now ${e.levels.on_hand} on hand, ${e.levels.reserved} reserved, ${e.levels.available} available.`
    : '';
  const li = h('li', {}, `${shortTime(e.at)} ${locName(e.location || '')}: ${describeEvent(e)}.${levels}`);
  const list = $('updates');
  list.prepend(li);
  while (list.children.length > 10) {
    list.lastElementChild.remove();
  }
}

function onLiveEvent(sku, event) {
  if (sku !== state.sku) {
    return;
  }
  let e;
  try {
    e = JSON.parse(event.data);
  } catch {
    return;
  }
  if (!e || typeof e !== 'object') {
    return;
  }
  const type = e.type || event.type;
  if ((e.sku && e.sku !== sku) || !/^(stock|reservation)\./.test(type)) {
    return;
  }
  e.type = type;
  applyLevels(e);
  addUpdate(e);
  scheduleRefresh();
}

function setLive(stateName, text) {
  const e = $('live-status');
  e.dataset.state = stateName;
  e.textContent = text;
}

function onStreamStatus(sku, s, detail) {
  if (sku !== state.sku) {
    return;
  }
  switch (s) {
    case STREAM.CONNECTING:
      setLive('connecting', 'Live updates: connecting…');
      break;
    case STREAM.OPEN:
      setLive('open', 'Live updates: on');
      // Whatever changed before the stream opened (or while it was down) is fetched now.
      scheduleRefresh();
      break;
    case STREAM.RETRYING:
      setLive('retrying', `Live updates: connection lost; reconnecting in ${Math.ceil(detail.delay / 1000)} s`);
      break;
    case STREAM.MISSING:
      setLive('missing', 'Live updates: this server does not offer the event stream (404); use “Refresh now”. Trying again every 15 s.');
      break;
    case STREAM.DENIED:
      if (detail.status === 401) {
        signOut('Your key is no longer accepted (401 unauthorized). Sign in again.');
      } else {
        setLive('denied', 'Live updates: your key may not read the event stream (403 forbidden).');
      }
      break;
    default:
      setLive('idle', 'Live updates: off');
  }
}

function startStream(sku) {
  stopStream();
  state.stream = new LiveStream({
    url: `/v1/events/stream?sku=${encodeURIComponent(sku)}`,
    headers: () => ({ Authorization: 'Bearer ' + state.key }),
    onEvent: (event) => onLiveEvent(sku, event),
    onStatus: (s, detail) => onStreamStatus(sku, s, detail),
  });
  state.stream.start();
}

function stopStream() {
  clearTimeout(state.refreshTimer);
  clearTimeout(state.historyTimer);
  if (state.stream) {
    const s = state.stream;
    state.stream = null;
    s.stop();
  }
  setLive('idle', 'Live updates: off');
}

// ---- reservations --------------------------------------------------------------------------

const ACTION_DONE = {
  commit: 'Committed: the order is placed and the stock stays held until it is fulfilled.',
  release: 'Released: the stock is available again.',
  extend: 'Extended: the hold lasts longer.',
  fulfil: 'Fulfilled: the goods were handed over or shipped; on hand and reserved both dropped.',
};
const STATUS_NEXT = {
  held: 'It is held: it can be committed (the order is placed), extended, or released; otherwise it expires by itself.',
  committed: 'It is committed: the order is placed; it can be fulfilled or released.',
  fulfilled: 'It is fulfilled: nothing more can happen to it.',
  released: 'It is released: the stock went back; nothing more can happen to it.',
  expired: 'It expired: the stock went back; nothing more can happen to it.',
};

function allocationsAt(r) {
  const locs = new Set();
  for (const line of r.lines || []) {
    for (const a of line.allocations || []) {
      locs.add(a.location);
    }
  }
  return locs;
}

function allowedActions(r) {
  const role = state.role;
  const out = [];
  if (r.status === 'held' && (role === 'storefront' || role === 'admin')) {
    out.push('commit');
  }
  if (r.status === 'committed') {
    const locs = allocationsAt(r);
    const ours = role === 'store' && locs.size === 1 && locs.has(state.storeLocation);
    if (role === 'admin' || ours) {
      out.push('fulfil');
    }
  }
  if ((r.status === 'held' || r.status === 'committed') && role !== 'store') {
    out.push('release');
  }
  if (r.status === 'held' && role !== 'store') {
    out.push('extend');
  }
  return out;
}

function renderReservation(r) {
  state.reservation = r;
  const facts = [
    ['Id', r.id],
    ['Status', h('span', { class: `status status-${r.status}`, dataset: { testid: 'resv-status' } }, r.status)],
    ['Channel', CHANNEL_NAME[r.channel] || r.channel],
    ['Store', r.location ? locName(r.location) : null],
    ['Customer', r.customer],
    ['Reference', r.reference],
    ['Created', r.created_at ? dateTime(r.created_at) : null],
    ['Expires', r.status === 'held' && r.expires_at ? dateTime(r.expires_at) : null],
    ['Committed', r.committed_at ? dateTime(r.committed_at) : null],
    ['Fulfilled', r.fulfilled_at ? dateTime(r.fulfilled_at) : null],
    ['Released', r.released_at ? dateTime(r.released_at) : null],
    ['Expired', r.expired_at ? dateTime(r.expired_at) : null],
  ].filter(([, v]) => v !== null && v !== undefined && v !== '');
  $('resv-facts').replaceChildren(...facts.flatMap(([k, v]) => [h('dt', {}, k), h('dd', {}, v)]));
  $('resv-lines').replaceChildren(
    ...(r.lines || []).map((l) =>
      h('tr', {},
        h('td', {}, h('a', { href: `#sku=${encodeURIComponent(l.sku)}`, dataset: { sku: l.sku } }, l.sku)),
        h('td', { class: 'num' }, String(l.quantity)),
        h('td', {}, (l.allocations || []).map((a) => `${locName(a.location)} × ${a.quantity}`).join(', ')))),
  );
  const actions = allowedActions(r);
  for (const b of document.querySelectorAll('#resv-actions button[data-action]')) {
    const shown = actions.includes(b.dataset.action);
    if (b.closest('#extend-form')) {
      $('extend-form').hidden = !shown;
    } else {
      b.hidden = !shown;
    }
  }
  const none = actions.length === 0 ? ' Nothing your key may do applies to it now.' : '';
  $('resv-actions-note').textContent = `As ${state.role}, your key ${ROLE_MAY[state.role]}. ${STATUS_NEXT[r.status] || ''}${none}`;
  $('resv-view').hidden = false;
}

async function lookupReservation(raw) {
  const id = raw.trim();
  if (!ID_RE.test(id)) {
    say('resv-message', `A reservation id is ${ID_RULE}.`, 'error');
    $('resv-id').focus();
    return;
  }
  say('resv-message', `Looking up ${id}…`);
  try {
    const r = await api.get(`/v1/reservations/${seg(id)}`);
    renderReservation(r);
    say('resv-message', `Reservation ${id} is ${r.status}.`);
  } catch (err) {
    $('resv-view').hidden = true;
    if (err instanceof ApiError && err.status === 404) {
      say('resv-message', `No reservation has the id “${id}”.`, 'error');
    } else {
      failed(err, 'resv-message');
    }
  }
}

async function reservationAction(action) {
  const r = state.reservation;
  if (!r) {
    return;
  }
  let body;
  if (action === 'extend') {
    const ttl = Number($('extend-ttl').value);
    if (!Number.isInteger(ttl) || ttl < 1) {
      say('resv-message', 'Give the new hold time as a whole number of seconds, 1 or more.', 'error');
      $('extend-ttl').focus();
      return;
    }
    body = { ttl_seconds: ttl };
  }
  const buttons = document.querySelectorAll('#resv-actions button');
  buttons.forEach((b) => (b.disabled = true));
  try {
    const next = await api.post(`/v1/reservations/${seg(r.id)}/${action}`, body, {
      'Idempotency-Key': idempotencyKey(action),
    });
    renderReservation(next);
    say('resv-message', ACTION_DONE[action], 'ok');
  } catch (err) {
    if (err instanceof ApiError && err.code === 'invalid-transition') {
      const now = err.problem.current_status;
      say('resv-message', `Not possible: the reservation is ${now} now.`, 'error');
      lookupReservation(r.id);
    } else {
      failed(err, 'resv-message');
    }
  } finally {
    buttons.forEach((b) => (b.disabled = false));
    const active = document.activeElement;
    if (!active || active === document.body || active.hidden || active.closest('[hidden]')) {
      $('resv-message').setAttribute('tabindex', '-1');
      $('resv-message').focus();
    }
  }
}

// ---- recommendations -----------------------------------------------------------------------

function fillLocationSelects() {
  const stores = [...state.locations.values()].filter((l) => l.type === 'store');
  const prefs = $('prefs-store');
  prefs.replaceChildren(h('option', { value: '' }, 'No preference'),
    ...stores.map((l) => h('option', { value: l.id }, locName(l.id))));
  updateRecLocations();
}

function updateRecLocations() {
  const channel = $('rec-channel').value;
  const select = $('rec-location');
  const previous = select.value;
  if (channel === 'web') {
    select.replaceChildren(h('option', { value: '' }, 'Not needed for web'));
    select.disabled = true;
    return;
  }
  const options = [...state.locations.values()].filter((l) => (l.fulfils || []).includes(channel));
  select.replaceChildren(...options.map((l) => h('option', { value: l.id }, locName(l.id))));
  if (options.some((l) => l.id === previous)) {
    select.value = previous;
  }
  select.disabled = false;
}

function whereText(w) {
  const where = w.location ? ` at ${locName(w.location)}` : '';
  return `${CHANNEL_NAME[w.channel] || w.channel}${where}: ${w.available} available`;
}

function renderRecommendation(body, q) {
  const p = body.primary || {};
  const gate = $('rec-primary');
  const asked = `${CHANNEL_NAME[q.channel] || q.channel}${q.location ? ` at ${locName(q.location)}` : ''}`;
  gate.dataset.resolved = String(Boolean(p.resolved));
  if (p.resolved) {
    const how = p.how === 'reserved' ? 'held by the reservation given' : `available for ${asked}`;
    gate.replaceChildren(
      h('h3', {}, `Primary need met: ${p.sku} is ${how}.`),
      h('p', {}, 'So complementary products may be suggested.'));
  } else {
    const alts = p.alternatives || [];
    gate.replaceChildren(
      h('h3', {}, `Primary need not met yet: ${p.sku} cannot be promised for ${asked}.`),
      h('p', {}, 'Nothing else is suggested until it is. ' +
        (alts.length ? 'Where the customer can have it instead:' : 'No other channel or store has it available right now.')),
      alts.length
        ? h('ul', { id: 'rec-alternatives' }, alts.map((w) =>
          h('li', { dataset: { channel: w.channel, location: w.location || '' } }, whereText(w))))
        : null);
  }
  const items = body.items || [];
  let itemsView;
  if (body.suppressed === 'customer_opt_out') {
    itemsView = h('p', {}, 'No suggestions: this customer has turned suggestions off.');
  } else if (!p.resolved) {
    itemsView = null;
  } else if (items.length === 0) {
    itemsView = h('p', {}, 'No complementary product passed the rules (bought together often enough, in stock in ' +
      'the same channel and store, within the price cap), so none is shown rather than filler.');
  } else {
    itemsView = h('div', {},
      h('h3', { class: 'small-title' }, 'Suggested to go with it'),
      h('ul', { class: 'suggestions' }, items.map((it) => h('li', { class: 'suggestion', dataset: { sku: it.sku } },
        h('h4', {}, `${it.name} (${it.sku})`),
        h('p', {}, `${money(it.price)} · ${it.available} available for ${asked}`),
        h('p', { class: 'reason' }, it.reason),
        it.evidence
          ? h('p', { class: 'evidence' },
            `Evidence: bought together in ${it.evidence.together} of the ${it.evidence.primary_orders} orders ` +
            `with ${p.sku}; association score ${it.score}.`)
          : null))));
  }
  $('rec-items').replaceChildren(...[itemsView].filter(Boolean));
  const pol = body.policy;
  $('rec-policy').textContent = pol
    ? `Policy: at most ${pol.max_items} suggestions, each priced at most ${Math.round(pol.max_price_ratio * 100)}% ` +
      `of the primary; complements only, never the primary's own category; nothing pre-selected.`
    : '';
  $('rec-view').hidden = false;
}

async function getRecommendations() {
  const q = {
    sku: $('rec-sku').value.trim(),
    channel: $('rec-channel').value,
    location: $('rec-channel').value === 'web' ? '' : $('rec-location').value,
    customer: $('rec-customer').value.trim(),
    reservation: $('rec-reservation').value.trim(),
    basket: $('rec-basket').value.replace(/\s+/g, ''),
  };
  if (!ID_RE.test(q.sku)) {
    say('rec-message', `The primary SKU is ${ID_RULE}.`, 'error');
    $('rec-sku').focus();
    return;
  }
  if (q.channel !== 'web' && !q.location) {
    say('rec-message', 'Choose the store for this channel.', 'error');
    $('rec-location').focus();
    return;
  }
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(q)) {
    if (v) {
      params.set(k, v);
    }
  }
  say('rec-message', 'Asking…');
  try {
    const body = await api.get(`/v1/recommendations?${params}`);
    renderRecommendation(body, q);
    say('rec-message', body.primary && body.primary.resolved
      ? `${(body.items || []).length} suggestion(s) for ${q.sku}.`
      : `${q.sku} is not available as asked; alternatives shown.`);
  } catch (err) {
    $('rec-view').hidden = true;
    failed(err, 'rec-message');
  }
}

// ---- customer preferences ------------------------------------------------------------------

function fillPrefs(p) {
  $('prefs-rec-on').checked = p.recommendations !== 'off';
  $('prefs-rec-off').checked = p.recommendations === 'off';
  $('prefs-consent').checked = Boolean(p.personalisation_consent);
  const store = $('prefs-store');
  if (p.preferred_store && ![...store.options].some((o) => o.value === p.preferred_store)) {
    store.append(h('option', { value: p.preferred_store }, p.preferred_store));
  }
  store.value = p.preferred_store || '';
  $('prefs-channel').value = p.preferred_channel || '';
  $('prefs-notes').value = p.notes || '';
  $('prefs-form').hidden = false;
  $('prefs-form').dataset.customer = p.customer;
}

async function loadPrefs(raw) {
  const id = raw.trim();
  if (!ID_RE.test(id)) {
    say('cust-message', `A customer id is ${ID_RULE}.`, 'error');
    $('cust-id').focus();
    return;
  }
  try {
    fillPrefs(await api.get(`/v1/customers/${seg(id)}/preferences`));
    say('cust-message', `Preferences of ${id}.`);
  } catch (err) {
    $('prefs-form').hidden = true;
    failed(err, 'cust-message');
  }
}

async function savePrefs() {
  const id = $('prefs-form').dataset.customer;
  const body = {
    recommendations: $('prefs-rec-off').checked ? 'off' : 'on',
    personalisation_consent: $('prefs-consent').checked,
    preferred_store: $('prefs-store').value || null,
    preferred_channel: $('prefs-channel').value || null,
    notes: $('prefs-notes').value.trim() || null,
  };
  try {
    fillPrefs(await api.put(`/v1/customers/${seg(id)}/preferences`, body));
    say('cust-message', `Saved the preferences of ${id}.`, 'ok');
  } catch (err) {
    failed(err, 'cust-message');
  }
}

// ---- wiring --------------------------------------------------------------------------------

function onSubmit(id, fn) {
  $(id).addEventListener('submit', (ev) => {
    ev.preventDefault();
    fn();
  });
}

function init() {
  onSubmit('signin-form', () => {
    const key = $('api-key').value.trim();
    if (!key) {
      say('signin-error', 'Enter an API key.', 'error');
      $('api-key').focus();
      return;
    }
    signIn(key, false);
  });
  $('sign-out').addEventListener('click', () => signOut(''));
  onSubmit('sku-form', () => openSku($('sku-input').value));
  $('refresh').addEventListener('click', () => {
    refreshStock();
    refreshHistory();
  });
  onSubmit('resv-form', () => lookupReservation($('resv-id').value));
  for (const b of document.querySelectorAll('#resv-actions > .actions button[data-action]')) {
    b.addEventListener('click', () => reservationAction(b.dataset.action));
  }
  onSubmit('extend-form', () => reservationAction('extend'));
  $('resv-lines').addEventListener('click', (ev) => {
    const a = ev.target.closest('a[data-sku]');
    if (a) {
      ev.preventDefault();
      $('sku-input').value = a.dataset.sku;
      openSku(a.dataset.sku);
      $('stock-section').scrollIntoView();
      $('sku-input').focus();
    }
  });
  $('rec-channel').addEventListener('change', updateRecLocations);
  onSubmit('rec-form', getRecommendations);
  onSubmit('cust-form', () => loadPrefs($('cust-id').value));
  onSubmit('prefs-form', savePrefs);

  // The chart is drawn to the width it has: draw it again when that changes.
  let resizeTimer = 0;
  let lastWidth = window.innerWidth;
  window.addEventListener('resize', () => {
    clearTimeout(resizeTimer);
    resizeTimer = setTimeout(() => {
      if (window.innerWidth !== lastWidth && state.historyEvents && !$('product-view').hidden) {
        lastWidth = window.innerWidth;
        renderHistory(state.historyEvents);
      }
    }, 200);
  });

  const saved = sessionStorage.getItem(KEY_STORAGE);
  if (saved) {
    signIn(saved, true);
  } else {
    $('api-key').focus();
  }
}

init();
