// The test view (#/tests/<id>): the test's delayed-enrichment state per type, server percentiles next to the
// client-side latencies FlakeBench recorded (chart and table), the lock-wait timeline, hybrid credits with
// the attribution note, and insights by severity. Data not published yet says "pending until ~HH:MM UTC".
import { ApiError, getJson, testPath } from './api.js';
import { latencyChart, lockTimeline } from './charts.js';
import { el, replaceChildren } from './dom.js';
import { clockTime, formatCount, formatCredits, formatDuration, pendingUntil } from './format.js';
import { badge } from './queue-view.js';

const LOCK_EVENTS_READ = 500;
const LOCK_EVENTS_LISTED = 10;
const SEVERITIES = ['HIGH', 'MEDIUM', 'LOW'];

/** What a section shows instead of numbers while its data is not COMPLETED. */
function stateText(state, now) {
  const reason = state.reason ? `: ${state.reason}` : '';
  switch (state.status) {
    case 'PENDING':
      return `${capitalize(pendingUntil(state.expected_at, now))}${state.reason ? ` (${state.reason})` : ''}`;
    case 'IN_PROGRESS':
      return `Being enriched now (${pendingUntil(state.expected_at, now)})`;
    case 'NOT_APPLICABLE':
      return `Not applicable${reason}`;
    case 'FAILED':
      return `Failed${reason}`;
    case 'SKIPPED':
      return `Cancelled${reason}`;
    case 'NOT_QUEUED':
      return `Not queued${reason}`;
    default:
      return state.status;
  }
}
const capitalize = (text) => text.charAt(0).toUpperCase() + text.slice(1);

/** A number cell: the formatted text, the raw value in data-value, a name in data-field. */
function value(field, raw, formatter = formatDuration, missing = 'not reported') {
  const text = raw === null || raw === undefined ? missing : formatter(raw) ?? missing;
  return el('td', { class: 'n', dataset: { field, value: raw === null || raw === undefined ? '' : String(raw) } }, text);
}

function section(id, title, ...body) {
  return el('section', { class: 'panel', 'aria-labelledby': id }, el('h3', { id }, title), ...body);
}

const stateLine = (text, status) => el('p', { class: `state state-${status.toLowerCase()}`, role: 'status' }, text);

export class TestView {
  constructor(root, { now, onTokenNeeded }) {
    this.root = root;
    this.now = now;
    this.onTokenNeeded = onTokenNeeded;
    this.testId = null;
    this.generation = 0;
  }

  show(testId) {
    this.testId = testId;
    replaceChildren(this.root, el('h2', { id: 'test-heading', tabindex: '-1' }, 'Test ', el('span', { class: 'id' }, testId)), el('p', { class: 'muted' }, 'Loading…'));
    return this.refresh();
  }

  async refresh() {
    const testId = this.testId;
    if (testId === null) return;
    const generation = ++this.generation;
    const names = ['delayed-enrichment-status', 'server-metrics', 'client-latencies', `lock-contention?limit=${LOCK_EVENTS_READ}`, 'hybrid-credits', 'query-insights'];
    const answers = await Promise.allSettled(names.map((name) => getJson(testPath(testId, name))));
    if (generation !== this.generation || testId !== this.testId) return; // a newer refresh or another test
    const [status, server, client, locks, credits, insights] = answers;
    const unauthorized = answers.some((a) => a.status === 'rejected' && a.reason instanceof ApiError && a.reason.status === 401);
    if (unauthorized) this.onTokenNeeded();
    const now = this.now();
    const heading = document.getElementById('test-heading');
    const hadFocus = document.activeElement === heading;
    if (status.status === 'rejected') {
      replaceChildren(this.root, el('h2', { id: 'test-heading', tabindex: '-1' }, 'Test ', el('span', { class: 'id' }, testId)), el('p', { class: 'error', role: 'alert' }, status.reason.detail ?? String(status.reason)));
      return;
    }
    const s = status.value;
    replaceChildren(
      this.root,
      el('p', {}, el('a', { href: '#/' }, '← Back to the queue')),
      el('h2', { id: 'test-heading', tabindex: '-1' }, s.test_name ?? 'Test', ' ', el('span', { class: 'id' }, testId)),
      el('p', { class: 'summary', role: 'status', 'aria-live': 'polite', dataset: { status: s.status } }, badge(s.status), ' ', s.table_type ?? '', ' · ', this.statusSentence(s, now)),
      this.typesPanel(s, now),
      this.latencyPanel(server, client, now),
      this.locksPanel(locks, now),
      this.creditsPanel(credits, now),
      this.insightsPanel(insights, now),
    );
    if (hadFocus) document.getElementById('test-heading')?.focus();
  }

  statusSentence(s, now) {
    if (s.status === 'COMPLETED') return s.completed_at ? `completed ${clockTime(s.completed_at, now)}` : 'completed';
    if (s.status === 'PENDING' || s.status === 'IN_PROGRESS') return `all data ${pendingUntil(s.expected_at, now)}`;
    return stateText(s, now);
  }

  typesPanel(s, now) {
    return section('types-heading', 'Enrichment types',
      el('table', {}, el('caption', { class: 'visually-hidden' }, 'Status of each enrichment type'),
        el('thead', {}, el('tr', {}, ...['Type', 'Status', 'Due / done', 'Rows', 'Attempts', 'Note'].map((h) => el('th', { scope: 'col' }, h)))),
        el('tbody', {}, ...s.types.map((type) =>
          el('tr', { dataset: { type: type.type } },
            el('th', { scope: 'row' }, type.type),
            el('td', {}, badge(type.status)),
            el('td', {}, type.expected_at ? pendingUntil(type.expected_at, now) : type.completed_at ? clockTime(type.completed_at, now) : '—'),
            value(`type.${type.type}.rows`, type.rows, formatCount, '—'),
            value(`type.${type.type}.attempts`, type.attempts, formatCount, '—'),
            el('td', { class: 'error' }, type.reason ?? ''))))));
  }

  latencyPanel(serverAnswer, clientAnswer, now) {
    const body = [];
    if (serverAnswer.status === 'rejected' || clientAnswer.status === 'rejected') {
      const failed = serverAnswer.status === 'rejected' ? serverAnswer.reason : clientAnswer.reason;
      return section('latency-heading', 'Latency: server and client', el('p', { class: 'error' }, failed.detail ?? String(failed)));
    }
    const server = serverAnswer.value;
    const client = clientAnswer.value;
    const metrics = server.aggregate_metrics;
    const serverMissing = metrics ? 'no server data for this group' : stateText(server, now);
    if (!metrics) body.push(stateLine(`Server percentiles: ${stateText(server, now)}`, server.status));
    else body.push(el('p', { class: 'muted' }, `Server: AGGREGATE_QUERY_HISTORY execution time (${server.percentile_method ?? 'method not reported'}). Client: FlakeBench's own measurements (${client.latency_column}, ${client.percentile_method}).`));
    if (client.by_pattern.length === 0 && client.pattern_availability.status !== 'COMPLETED') {
      body.push(stateLine(`Client latencies per pattern: ${stateText(client.pattern_availability, now)}`, client.pattern_availability.status));
    }

    const serverLane = (v) => (v ? { p50_ms: v.exec_median_ms, p95_ms: v.exec_p95_ms, p99_ms: v.exec_p99_ms, max_ms: v.exec_max_ms, n: v.query_count ?? v.total_queries } : null);
    const rows = [];
    const recorded = client.recorded;
    rows.push({ key: 'overall', label: 'All queries', client: recorded ? { ...recorded, n: recorded.total_operations } : null, server: serverLane(metrics) });
    const clientByHash = new Map(client.by_pattern.map((group) => [group.hash, group]));
    const kindsWithPatterns = new Set();
    for (const pattern of metrics?.patterns ?? []) {
      const match = clientByHash.get(pattern.hash);
      if (match) kindsWithPatterns.add(match.query_kind);
      rows.push({ key: `pattern.${pattern.hash}`, label: `${match?.query_kind ?? 'pattern'} ${pattern.hash.slice(0, 8)}`, client: match ? { ...match, n: match.executions } : null, server: serverLane(pattern) });
    }
    for (const kind of client.by_kind) {
      if (kindsWithPatterns.has(kind.query_kind)) continue;
      rows.push({ key: `kind.${kind.query_kind ?? 'unlabelled'}`, label: kind.query_kind ?? 'unlabelled', client: { ...kind, n: kind.executions }, server: null });
    }
    const missingClient = 'no client rows';
    body.push(latencyChart(
      rows.map((row) => ({ label: row.label, lanes: [{ name: 'client', values: row.client, missing: missingClient }, { name: 'server', values: row.server, missing: serverMissing }] })),
      { title: 'Latency percentiles, client and server', description: `p50, p95 and p99 for ${rows.length} groups; bars run from zero to p50, then lighter to p95 and p99. The table below has the numbers.` },
    ));
    body.push(el('div', { class: 'table-scroll' }, el('table', { class: 'latency' },
      el('caption', {}, 'Latency percentiles'),
      el('thead', {}, el('tr', {}, ...['Group', 'Side', 'Queries', 'p50', 'p95', 'p99', 'Max'].map((h) => el('th', { scope: 'col' }, h)))),
      el('tbody', {}, ...rows.flatMap((row) => ['client', 'server'].map((side) => {
        const lane = row[side];
        const field = (name) => `${row.key}.${side}.${name}`;
        const missing = side === 'server' ? serverMissing : missingClient;
        return el('tr', { dataset: { row: row.key, side } },
          side === 'client' ? el('th', { scope: 'row', rowspan: 2 }, row.label) : null,
          el('td', {}, side),
          value(field('n'), lane?.n, formatCount, '—'),
          ...(lane ? ['p50_ms', 'p95_ms', 'p99_ms', 'max_ms'].map((name) => value(field(name), lane[name])) : [el('td', { colspan: 4, class: 'muted' }, missing)]));
      }))))));
    const measured = client.by_kind.reduce((sum, group) => sum + group.executions, 0);
    const matched = client.by_pattern.reduce((sum, group) => sum + group.executions, 0);
    if (client.by_pattern.length > 0) {
      body.push(el('p', { class: 'note' }, `Client figures per pattern cover the executions QUERY_HISTORY matched to a pattern (${formatCount(matched)} of ${formatCount(measured)} measured); every execution is in the table per operation kind below.`));
    }
    if (client.by_kind.length > 0) {
      body.push(el('div', { class: 'table-scroll' }, el('table', { class: 'latency-kinds' },
        el('caption', {}, 'Client latency by operation kind (QUERY_EXECUTIONS.QUERY_KIND, measurement phase)'),
        el('thead', {}, el('tr', {}, ...['Kind', 'Executions', 'Errors', 'p50', 'p95', 'p99', 'Max'].map((h) => el('th', { scope: 'col' }, h)))),
        el('tbody', {}, ...client.by_kind.map((kind) => {
          const key = `bykind.${kind.query_kind ?? 'unlabelled'}`;
          return el('tr', { dataset: { row: key } },
            el('th', { scope: 'row' }, kind.query_kind ?? 'unlabelled'),
            value(`${key}.executions`, kind.executions, formatCount),
            value(`${key}.errors`, kind.errors, formatCount),
            ...['p50_ms', 'p95_ms', 'p99_ms', 'max_ms'].map((name) => value(`${key}.${name}`, kind[name])));
        })))));
    }
    return section('latency-heading', 'Latency: server and client', ...body);
  }

  locksPanel(answer, now) {
    const title = 'Lock contention';
    if (answer.status === 'rejected') return section('locks-heading', title, el('p', { class: 'error' }, answer.reason.detail ?? String(answer.reason)));
    const locks = answer.value;
    if (locks.status !== 'COMPLETED' || !locks.summary) return section('locks-heading', title, stateLine(stateText(locks, now), locks.status));
    const s = locks.summary;
    const figures = el('table', { class: 'figures-inline' }, el('caption', { class: 'visually-hidden' }, 'Lock wait summary'), el('tbody', {},
      el('tr', {}, el('th', { scope: 'row' }, 'Lock waits'), value('locks.lock_wait_count', s.lock_wait_count, formatCount)),
      el('tr', {}, el('th', { scope: 'row' }, 'Total wait'), value('locks.total_wait_ms', s.total_wait_ms)),
      el('tr', {}, el('th', { scope: 'row' }, 'Average wait'), value('locks.avg_wait_ms', s.avg_wait_ms)),
      el('tr', {}, el('th', { scope: 'row' }, 'Longest wait'), value('locks.max_wait_ms', s.max_wait_ms)),
      el('tr', {}, el('th', { scope: 'row' }, 'Distinct blockers'), value('locks.unique_blockers', s.unique_blockers, formatCount))));
    const body = [figures];
    if (s.lock_wait_count === 0 || locks.events.length === 0) body.push(el('p', { class: 'muted' }, 'No lock waits in the test window.'));
    else {
      body.push(lockTimeline(locks.events, { title: 'Lock waits over time', description: `${formatCount(s.lock_wait_count)} waits between ${clockTime(s.first_lock_wait, now, { seconds: true })} and ${clockTime(s.last_lock_wait, now, { seconds: true })}; the longest ${formatDuration(s.max_wait_ms)}.` }));
      if (locks.next_cursor) body.push(el('p', { class: 'muted' }, `The chart shows the first ${locks.events.length} blocker rows.`));
      body.push(el('table', { class: 'events' }, el('caption', {}, `First ${Math.min(LOCK_EVENTS_LISTED, locks.events.length)} lock waits`),
        el('thead', {}, el('tr', {}, ...['Requested', 'Wait', 'Lock', 'Object', 'Blocking transaction'].map((h) => el('th', { scope: 'col' }, h)))),
        el('tbody', {}, ...locks.events.slice(0, LOCK_EVENTS_LISTED).map((e) =>
          el('tr', {}, el('td', {}, e.requested_at ? clockTime(e.requested_at, now, { seconds: true }) : '—'), el('td', { class: 'n' }, formatDuration(e.wait_ms) ?? 'unknown'),
            el('td', {}, e.lock_type ?? ''), el('td', {}, e.object_name ?? ''), el('td', { class: 'id' }, e.blocking_transaction_id ?? e.blocking_query_id ?? 'unidentified'))))));
    }
    return section('locks-heading', title, ...body);
  }

  creditsPanel(answer, now) {
    const title = 'Hybrid table credits';
    if (answer.status === 'rejected') return section('credits-heading', title, el('p', { class: 'error' }, answer.reason.detail ?? String(answer.reason)));
    const credits = answer.value;
    if (credits.status !== 'COMPLETED') return section('credits-heading', title, stateLine(stateText(credits, now), credits.status));
    const body = [
      el('table', { class: 'figures-inline' }, el('caption', { class: 'visually-hidden' }, 'Credit totals'), el('tbody', {},
        el('tr', {}, el('th', { scope: 'row' }, 'Attributed credits'), value('credits.total_credits', credits.total_credits, formatCredits, credits.reason ?? 'none')),
        el('tr', {}, el('th', { scope: 'row' }, 'Requests'), value('credits.total_requests', credits.total_requests, formatCount, '—')))),
    ];
    if (credits.attribution) body.push(el('p', { class: 'note', dataset: { field: 'credits.note' } }, credits.attribution.note));
    if (credits.windows.length > 0) {
      body.push(el('table', {}, el('caption', {}, 'Usage windows'),
        el('thead', {}, el('tr', {}, ...['Window', 'Credits', 'Share of window', 'Billed'].map((h) => el('th', { scope: 'col' }, h)))),
        el('tbody', {}, ...credits.windows.map((w) => el('tr', {},
          el('td', {}, `${clockTime(w.start_time, now) ?? '?'} – ${clockTime(w.end_time, now) ?? '?'}`),
          el('td', { class: 'n' }, formatCredits(w.credits_used) ?? '—'),
          el('td', { class: 'n' }, typeof w.overlap_fraction === 'number' ? `${(w.overlap_fraction * 100).toFixed(1)} %` : '—'),
          el('td', {}, w.billed ? 'billed' : 'not billed'))))));
    }
    return section('credits-heading', title, ...body);
  }

  insightsPanel(answer, now) {
    const title = 'Query insights';
    if (answer.status === 'rejected') return section('insights-heading', title, el('p', { class: 'error' }, answer.reason.detail ?? String(answer.reason)));
    const insights = answer.value;
    if (insights.status !== 'COMPLETED' || !insights.counts) return section('insights-heading', title, stateLine(stateText(insights, now), insights.status));
    const c = insights.counts;
    const body = [el('p', {}, el('span', { dataset: { field: 'insights.total', value: String(c.total) } }, `${formatCount(c.total)} insights`), ': ',
      ...SEVERITIES.flatMap((severity, i) => [i > 0 ? ', ' : '', el('span', { class: `sev sev-${severity.toLowerCase()}`, dataset: { field: `insights.${severity}`, value: String(c[severity]) } }, `${formatCount(c[severity])} ${severity.toLowerCase()}`)]))];
    for (const severity of SEVERITIES) {
      const items = insights.insights.filter((insight) => insight.severity === severity);
      if (items.length === 0) continue;
      body.push(el('h4', {}, `${capitalize(severity.toLowerCase())} severity`), el('ul', { class: 'insights' }, ...items.map((insight) =>
        el('li', {}, el('strong', {}, insight.insight_type), insight.affected_query_count !== null ? ` (${formatCount(insight.affected_query_count)} queries)` : '', insight.recommendation ? `: ${insight.recommendation}` : ''))));
    }
    if (insights.insights_truncated) body.push(el('p', { class: 'muted' }, 'More insights exist than are listed here.'));
    return section('insights-heading', title, ...body);
  }
}
