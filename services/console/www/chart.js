// chart.js - the stock history chart: on hand over time per location, as inline SVG,
// with axes, axis titles, a legend, and a text summary for people who cannot see it.

const SVG = 'http://www.w3.org/2000/svg';
// Okabe-Ito colours (distinguishable with colour-vision deficiencies), each with its own
// dash pattern so that colour is never the only difference.
const SERIES = [
  { colour: '#0072B2', dash: '' },
  { colour: '#D55E00', dash: '8 4' },
  { colour: '#007A5A', dash: '2 3' },
  { colour: '#AA4499', dash: '10 3 2 3' },
  { colour: '#8A6100', dash: '4 4' },
  { colour: '#000000', dash: '1 5' },
];
const H = 300;
const M = { top: 16, right: 16, bottom: 52, left: 60 };

function el(name, attrs = {}, text) {
  const e = document.createElementNS(SVG, name);
  for (const [k, v] of Object.entries(attrs)) {
    if (v !== undefined && v !== '') {
      e.setAttribute(k, String(v));
    }
  }
  if (text !== undefined) {
    e.textContent = text;
  }
  return e;
}

// Round numbers for the y axis: 0 .. a little above max in 4-6 steps.
function niceTicks(max) {
  if (max <= 0) {
    return [0, 1];
  }
  const rough = max / 4;
  const pow = 10 ** Math.floor(Math.log10(rough));
  const step = [1, 2, 5, 10].map((f) => f * pow).find((s) => s >= rough);
  const ticks = [];
  for (let v = 0; v <= max + step * 0.999; v += step) {
    ticks.push(Math.round(v));
  }
  return ticks;
}

function formatTime(ms, spanMs) {
  const d = new Date(ms);
  const hm = d.toISOString().slice(11, 16);
  if (spanMs < 120000) {
    return d.toISOString().slice(11, 19);
  }
  return spanMs > 36 * 3600 * 1000 ? d.toISOString().slice(5, 10) + ' ' + hm : hm;
}

// series(events): {location: [{t, onHand, type}]} oldest first, from the ledger (newest first).
export function historySeries(events) {
  const out = new Map();
  for (const e of events) {
    const onHand = e && e.levels && e.levels.on_hand;
    const t = Date.parse(e && e.at);
    if (typeof onHand !== 'number' || Number.isNaN(t) || !e.location) {
      continue;
    }
    if (!out.has(e.location)) {
      out.set(e.location, []);
    }
    out.get(e.location).push({ t, onHand, type: e.type, id: e.id });
  }
  for (const points of out.values()) {
    points.sort((a, b) => a.t - b.t || String(a.id).localeCompare(String(b.id)));
  }
  return new Map([...out.entries()].sort((a, b) => a[0].localeCompare(b[0])));
}

// summary(series, names): one sentence per location, for the text alternative.
export function historySummary(series, names = new Map(), now = Date.now()) {
  if (series.size === 0) {
    return 'No stock movements recorded yet for this product.';
  }
  const all = [...series.values()].flat();
  const first = Math.min(...all.map((p) => p.t));
  const parts = [];
  for (const [loc, points] of series) {
    const values = points.map((p) => p.onHand);
    const name = names.get(loc) || loc;
    const start = values[0];
    const end = values[values.length - 1];
    const moves = points.filter((p) => p.type === 'stock.changed').length;
    const changes = moves === 1 ? '; 1 movement' : moves > 1 ? `; ${moves} movements` : '';
    parts.push(
      `${name}: ${start} → ${end} on hand (lowest ${Math.min(...values)}, highest ` +
        `${Math.max(...values)}${changes}).`,
    );
  }
  const span = formatTime(first, now - first) + ' to ' + formatTime(now, now - first) + ' UTC';
  return `On hand by location from ${span}. ` + parts.join(' ');
}

// renderHistoryChart(svgHost, events, names) -> the summary text. Replaces svgHost's content.
export function renderHistoryChart(host, events, names = new Map(), now = Date.now()) {
  const series = historySeries(events);
  const summary = historySummary(series, names, now);
  // As wide as its box (so that its text keeps its size on a phone), within limits.
  const box = host.getBoundingClientRect().width;
  const W = box > 0 ? Math.round(Math.min(900, Math.max(300, box))) : 640;
  host.replaceChildren();
  const svg = el('svg', {
    viewBox: `0 0 ${W} ${H}`,
    role: 'img',
    'aria-labelledby': 'history-svg-title history-svg-desc',
    class: 'chart',
    preserveAspectRatio: 'xMidYMid meet',
  });
  svg.append(el('title', { id: 'history-svg-title' }, 'On hand over time, by location'));
  svg.append(el('desc', { id: 'history-svg-desc' }, summary));
  host.append(svg);
  if (series.size === 0) {
    svg.append(el('text', { x: W / 2, y: H / 2, 'text-anchor': 'middle', class: 'chart-empty' },
      'No movements yet'));
    return summary;
  }

  const all = [...series.values()].flat();
  let t0 = Math.min(...all.map((p) => p.t));
  const t1 = Math.max(now, ...all.map((p) => p.t));
  if (t1 - t0 < 60000) {
    t0 = t1 - 60000;
  }
  const yTicks = niceTicks(Math.max(...all.map((p) => p.onHand)));
  const yMax = yTicks[yTicks.length - 1];
  const x = (t) => M.left + ((t - t0) / (t1 - t0)) * (W - M.left - M.right);
  const y = (v) => H - M.bottom - (v / yMax) * (H - M.top - M.bottom);

  const axes = el('g', { class: 'chart-axes', 'aria-hidden': 'true' });
  for (const v of yTicks) {
    axes.append(el('line', { x1: M.left, x2: W - M.right, y1: y(v), y2: y(v), class: 'grid' }));
    axes.append(el('text', { x: M.left - 8, y: y(v) + 4, 'text-anchor': 'end' }, String(v)));
  }
  for (let i = 0; i <= 4; i++) {
    const t = t0 + ((t1 - t0) * i) / 4;
    const anchor = i === 0 ? 'start' : i === 4 ? 'end' : 'middle';
    axes.append(el('line', { x1: x(t), x2: x(t), y1: H - M.bottom, y2: H - M.bottom + 5, class: 'tick' }));
    axes.append(el('text', { x: x(t), y: H - M.bottom + 18, 'text-anchor': anchor },
      formatTime(t, t1 - t0)));
  }
  axes.append(el('line', { x1: M.left, x2: W - M.right, y1: H - M.bottom, y2: H - M.bottom, class: 'axis' }));
  axes.append(el('line', { x1: M.left, x2: M.left, y1: M.top, y2: H - M.bottom, class: 'axis' }));
  axes.append(el('text', { x: (M.left + W - M.right) / 2, y: H - 8, 'text-anchor': 'middle',
    class: 'axis-title' }, 'Time (UTC)'));
  axes.append(el('text', { x: 14, y: (M.top + H - M.bottom) / 2, 'text-anchor': 'middle',
    class: 'axis-title', transform: `rotate(-90 14 ${(M.top + H - M.bottom) / 2})` },
  'On hand (units)'));
  svg.append(axes);

  let i = 0;
  for (const [loc, points] of series) {
    const style = SERIES[i % SERIES.length];
    // A step line: the level holds until the next movement, and up to now.
    let d = `M${x(points[0].t).toFixed(1)},${y(points[0].onHand).toFixed(1)}`;
    for (let k = 1; k < points.length; k++) {
      d += `H${x(points[k].t).toFixed(1)}V${y(points[k].onHand).toFixed(1)}`;
    }
    d += `H${x(t1).toFixed(1)}`;
    const g = el('g', { class: 'series', 'data-location': loc });
    g.append(el('path', { d, fill: 'none', stroke: style.colour, 'stroke-width': 2.5,
      'stroke-dasharray': style.dash }));
    for (const p of points) {
      g.append(el('circle', { cx: x(p.t), cy: y(p.onHand), r: 3, fill: style.colour }));
    }
    svg.append(g);
    i++;
  }
  return summary;
}

// legendItems(series): [{location, colour, dash}] in the chart's order, for an HTML legend.
export function legendItems(events) {
  return [...historySeries(events).keys()].map((loc, i) => ({
    location: loc,
    ...SERIES[i % SERIES.length],
  }));
}
