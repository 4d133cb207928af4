// Hand-drawn SVG charts (no chart library): percentile bars comparing client and server latencies, and a
// lock-wait timeline. Each chart is an image with a title and a text description for screen readers; the
// exact numbers are in the table next to it.
import { svg } from './dom.js';
import { formatDuration } from './format.js';

const LABEL_WIDTH = 210;
const CHART_WIDTH = 760;
const LANE_HEIGHT = 18;
const LANE_GAP = 4;
const ROW_GAP = 14;
const PERCENTILES = [
  ['p50_ms', 'p50'],
  ['p95_ms', 'p95'],
  ['p99_ms', 'p99'],
];

let chartCount = 0;
const chartId = (kind) => `chart-${kind}-${++chartCount}`;

/** A 1-2-5 step of at most ~`ticks` intervals over [0, max]. */
function niceStep(max, ticks) {
  const raw = max / ticks;
  const power = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * power).find((s) => s >= raw);
  return step ?? 10 * power;
}

function frame(kind, title, description, height, children) {
  const id = chartId(kind);
  return svg(
    'svg',
    { class: `chart chart-${kind}`, viewBox: `0 0 ${CHART_WIDTH} ${height}`, role: 'img', 'aria-labelledby': `${id}-title ${id}-desc`, preserveAspectRatio: 'xMinYMin meet' },
    svg('title', { id: `${id}-title` }, title),
    svg('desc', { id: `${id}-desc` }, description),
    children,
  );
}

/** Powers of ten from `lo` to `hi` (the log axis' ticks). */
function decades(lo, hi) {
  const ticks = [];
  for (let value = lo; value <= hi * 1.0001; value *= 10) ticks.push(value);
  return ticks;
}

/**
 * Rows of lanes (client, server), each lane a bar to its p50 with lighter extensions to p95 and p99, on a
 * log scale (tails of seconds next to medians of milliseconds stay readable).
 * `rows`: [{ label, lanes: [{ name, values: { p50_ms, p95_ms, p99_ms } | null, missing: 'pending until …' }] }].
 */
export function latencyChart(rows, { title, description }) {
  const values = rows
    .flatMap((row) => row.lanes.flatMap((lane) => (lane.values ? PERCENTILES.map(([key]) => lane.values[key]) : [])))
    .filter((v) => typeof v === 'number' && v > 0);
  const lo = 10 ** Math.floor(Math.log10(Math.max(0.1, Math.min(1, ...values))));
  const hi = 10 ** Math.ceil(Math.log10(Math.max(lo * 10, ...values)));
  const left = LABEL_WIDTH;
  const right = CHART_WIDTH - 20;
  const scale = (value) => left + ((Math.log10(Math.max(lo, value)) - Math.log10(lo)) / (Math.log10(hi) - Math.log10(lo))) * (right - left);
  const rowHeight = (row) => row.lanes.length * (LANE_HEIGHT + LANE_GAP);
  const top = 26;
  const bottom = top + rows.reduce((sum, row) => sum + rowHeight(row) + ROW_GAP, 0);
  const parts = [
    svg('g', { class: 'legend' },
      ...PERCENTILES.map(([, name], i) => [svg('rect', { class: `seg seg-${i}`, x: left + i * 90, y: 4, width: 14, height: 12 }), svg('text', { class: 'tick', x: left + i * 90 + 20, y: 14 }, `to ${name}`)]),
      svg('text', { class: 'tick', x: right, y: 14, 'text-anchor': 'end' }, 'log scale')),
  ];
  for (const tick of decades(lo, hi)) {
    const x = scale(tick);
    parts.push(svg('line', { class: 'grid', x1: x, x2: x, y1: top - 4, y2: bottom }));
    parts.push(svg('text', { class: 'tick', x, y: bottom + 14, 'text-anchor': 'middle' }, tick < 1 ? `${tick} ms` : formatDuration(tick)));
  }
  parts.push(svg('line', { class: 'axis', x1: left, x2: right, y1: bottom, y2: bottom }));
  let y = top;
  for (const row of rows) {
    parts.push(svg('text', { class: 'row-label', x: 4, y: y + LANE_HEIGHT - 4 }, row.label));
    for (const lane of row.lanes) {
      parts.push(svg('text', { class: 'lane-label', x: left - 8, y: y + LANE_HEIGHT - 5, 'text-anchor': 'end' }, lane.name));
      if (lane.values) {
        let from = lo;
        PERCENTILES.forEach(([key], i) => {
          const value = lane.values[key];
          if (typeof value !== 'number' || value < from) return;
          parts.push(svg('rect', { class: `seg seg-${i} lane-${lane.name}`, x: scale(from), y, width: Math.max(1, scale(value) - scale(from)), height: LANE_HEIGHT }));
          from = value;
        });
      } else {
        parts.push(svg('text', { class: 'missing', x: left + 6, y: y + LANE_HEIGHT - 5 }, lane.missing ?? 'not reported'));
      }
      y += LANE_HEIGHT + LANE_GAP;
    }
    y += ROW_GAP;
  }
  return frame('latency', title, description, bottom + 24, parts);
}

/** Lock waits over time: one bar per wait at its REQUESTED_AT, as tall as its wait. */
export function lockTimeline(events, { title, description }) {
  const points = events
    .map((event) => ({ at: Date.parse(event.requested_at), wait: event.wait_ms }))
    .filter((point) => Number.isFinite(point.at) && typeof point.wait === 'number');
  const height = 200;
  const left = 70;
  const right = CHART_WIDTH - 20;
  const top = 10;
  const bottom = height - 30;
  const first = Math.min(...points.map((p) => p.at));
  const last = Math.max(...points.map((p) => p.at));
  const span = Math.max(1, last - first);
  const maxWait = Math.max(1, ...points.map((p) => p.wait));
  const x = (at) => left + ((at - first) / span) * (right - left);
  const y = (wait) => bottom - (wait / maxWait) * (bottom - top);
  const parts = [];
  const step = niceStep(maxWait, 4);
  for (let value = 0; value <= maxWait * 1.0001; value += step) {
    parts.push(svg('line', { class: 'grid', x1: left, x2: right, y1: y(value), y2: y(value) }));
    parts.push(svg('text', { class: 'tick', x: left - 6, y: y(value) + 4, 'text-anchor': 'end' }, formatDuration(value) ?? ''));
  }
  parts.push(svg('line', { class: 'axis', x1: left, x2: right, y1: bottom, y2: bottom }));
  const clock = (at) => new Date(at).toISOString().slice(11, 19);
  parts.push(svg('text', { class: 'tick', x: left, y: bottom + 16 }, `${clock(first)} UTC`));
  parts.push(svg('text', { class: 'tick', x: right, y: bottom + 16, 'text-anchor': 'end' }, `${clock(last)} UTC`));
  for (const point of points) {
    parts.push(svg('line', { class: 'wait', x1: x(point.at), x2: x(point.at), y1: bottom, y2: y(point.wait) }));
    parts.push(svg('circle', { class: 'wait-dot', cx: x(point.at), cy: y(point.wait), r: 2.5 }));
  }
  return frame('locks', title, description, height, parts);
}
