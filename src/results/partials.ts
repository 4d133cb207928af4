// HTML partials of the per-test routes, for FlakeBench's HTMX sections (hx-get, hx-swap="innerHTML"): the
// same data as the JSON, as accessible fragments — a section labelled by its heading, the state in an
// aria-live status line ("pending until ~HH:MM UTC", never empty numbers), tables with a caption and
// th scope. Every value goes through the escaping `html` template; no <html> shell, no scripts.
import { createHash } from 'node:crypto';
import type { AvailabilityState } from './availability.js';
import type { HybridCredits } from './hybrid-credits.js';
import { html, type SafeHtml } from './html.js';
import type { LockContention } from './lock-contention.js';
import type { QueryInsights } from './query-insights.js';
import type { ServerMetrics } from './server-metrics.js';
import type { DelayedEnrichmentStatus, PurgeAnswer, RetryAnswer } from './test-status.js';

const pad = (n: number) => String(n).padStart(2, '0');

/** "~14:05 UTC", with " on 2025-11-21" when that is not today (UTC). */
export function approxTime(at: string, now: Date): string {
  const date = new Date(at);
  const time = `~${pad(date.getUTCHours())}:${pad(date.getUTCMinutes())} UTC`;
  return date.toISOString().slice(0, 10) === now.toISOString().slice(0, 10) ? time : `${time} on ${date.toISOString().slice(0, 10)}`;
}

interface StateLine {
  status: AvailabilityState;
  expected_at: string | null;
  minutes_remaining: number | null;
  reason: string | null;
}

/** The sentence the status line shows. */
export function stateSentence(state: StateLine, now: Date, completedAt: string | null = null): string {
  const reason = state.reason ? `: ${state.reason}` : '';
  switch (state.status) {
    case 'PENDING':
      if (state.expected_at === null) return `Pending${reason}`;
      if (Date.parse(state.expected_at) > now.getTime()) {
        const minutes = state.minutes_remaining !== null ? ` (about ${state.minutes_remaining} min)` : '';
        return `Pending until ${approxTime(state.expected_at, now)}${minutes}`;
      }
      return `Pending: due since ${approxTime(state.expected_at, now)}${state.reason ? `; ${state.reason}` : ''}`;
    case 'IN_PROGRESS':
      return `In progress${state.expected_at ? ` (due ${approxTime(state.expected_at, now)})` : ''}${reason}`;
    case 'COMPLETED':
      return completedAt ? `Completed ${approxTime(completedAt, now)}` : 'Completed';
    case 'NOT_APPLICABLE':
      return `Not applicable${reason}`;
    case 'FAILED':
      return `Failed${reason}`;
    case 'SKIPPED':
      return `Cancelled${reason}`;
    case 'NOT_QUEUED':
      return `Not queued${reason}`;
  }
}

const idFor = (kind: string, testId: string) => `fb-${kind}-${createHash('sha256').update(testId).digest('hex').slice(0, 10)}`;

function section(kind: string, title: string, testId: string, status: string, body: SafeHtml[]): string {
  const id = idFor(kind, testId);
  return html`<section class="fb-${kind}" aria-labelledby="${id}" data-test-id="${testId}" data-status="${status}">
<h3 id="${id}">${title}</h3>
${body}
</section>
`.value;
}

const statusLine = (sentence: string, status: string) =>
  html`<p class="fb-status fb-status-${status.toLowerCase()}" role="status" aria-live="polite">${sentence}</p>
`;

const NOT_REPORTED = 'not reported';

function formatNumber(value: number | null | undefined, unit = '', digits = 1): string {
  if (value === null || value === undefined) return NOT_REPORTED;
  const text = value.toLocaleString('en-US', { maximumFractionDigits: digits });
  return unit ? `${text} ${unit}` : text;
}
const ms = (value: number | null | undefined) => formatNumber(value, 'ms');
const count = (value: number | null | undefined) => formatNumber(value, '', 0);

/** A two-column table: each row a labelled figure. */
function figures(caption: string, rows: Array<[string, string]>): SafeHtml {
  return html`<table>
<caption>${caption}</caption>
<thead><tr><th scope="col">Figure</th><th scope="col">Value</th></tr></thead>
<tbody>
${rows.map(([label, value]) => html`<tr><th scope="row">${label}</th><td>${value}</td></tr>
`)}</tbody>
</table>
`;
}

/** A table with column headers; the first cell of each row is its row header. */
function grid(caption: string, headers: string[], rows: string[][]): SafeHtml {
  return html`<table>
<caption>${caption}</caption>
<thead><tr>${headers.map((header) => html`<th scope="col">${header}</th>`)}</tr></thead>
<tbody>
${rows.map((cells) => html`<tr>${cells.map((cell, index) => (index === 0 ? html`<th scope="row">${cell}</th>` : html`<td>${cell}</td>`))}</tr>
`)}</tbody>
</table>
`;
}

export function statusPartial(status: DelayedEnrichmentStatus, now: Date): string {
  const sentence = stateSentence(
    { status: status.status, expected_at: status.expected_at, minutes_remaining: status.minutes_remaining, reason: status.status === 'FAILED' || status.status === 'NOT_APPLICABLE' || status.status === 'SKIPPED' ? status.last_error : null },
    now,
    status.completed_at,
  );
  const body: SafeHtml[] = [statusLine(sentence, status.status)];
  if (status.test_name !== null) body.push(html`<p class="fb-test-name">Test: ${status.test_name}</p>
`);
  if (status.types.length > 0) {
    body.push(
      grid(
        'Delayed enrichment by type',
        ['Type', 'Status', 'Attempts', 'Expected', 'Rows', 'Detail'],
        status.types.map((type) => [
          type.type,
          type.status,
          count(type.attempts),
          type.expected_at ? `pending until ${approxTime(type.expected_at, now)}` : type.completed_at ? `done ${approxTime(type.completed_at, now)}` : '—',
          type.status === 'COMPLETED' ? count(type.rows) : '—',
          type.reason ?? type.last_error ?? '',
        ]),
      ),
    );
  }
  return section('delayed-status', 'Delayed enrichment', status.test_id, status.status, body);
}

export function serverMetricsPartial(data: ServerMetrics, now: Date): string {
  const body: SafeHtml[] = [statusLine(stateSentence(data, now, data.availability.completed_at), data.status)];
  const m = data.aggregate_metrics;
  if (m) {
    body.push(
      figures(`Server execution times across all query patterns (percentiles: ${data.percentile_method ?? 'method not recorded'})`, [
        ['Query patterns', count(m.unique_query_patterns)],
        ['Queries', count(m.total_queries)],
        ['Average', ms(m.exec_avg_ms)],
        ['Median', ms(m.exec_median_ms)],
        ['p90', ms(m.exec_p90_ms)],
        ['p95', ms(m.exec_p95_ms)],
        ['p99', ms(m.exec_p99_ms)],
        ['Max', ms(m.exec_max_ms)],
        ['Worst pattern p95', ms(m.worst_p95_exec_ms)],
        ['Worst pattern p99', ms(m.worst_p99_exec_ms)],
        ['Compile average', ms(m.compile_avg_ms)],
        ['Queued (overload) average', ms(m.queued_overload_avg_ms)],
        ['Queued (provisioning) max', ms(m.queued_provisioning_max_ms)],
        ['Throttled requests', count(m.total_throttled_requests)],
        ['Errors', count(m.total_errors)],
      ]),
    );
    if (m.patterns.length > 0) {
      body.push(
        grid(
          `Query patterns (${m.patterns.length}${m.patterns_truncated ? ', list truncated' : ''})`,
          ['Pattern hash', 'Queries', 'Errors', 'Average', 'p95', 'p99', 'Max'],
          m.patterns.map((p) => [p.hash, count(p.query_count), count(p.errors_count), ms(p.exec_avg_ms), ms(p.exec_p95_ms), ms(p.exec_p99_ms), ms(p.exec_max_ms)]),
        ),
      );
    }
  }
  return section('server-metrics', 'Server metrics (AGGREGATE_QUERY_HISTORY)', data.test_id, data.status, body);
}

export function lockContentionPartial(data: LockContention, now: Date): string {
  const body: SafeHtml[] = [statusLine(stateSentence(data, now, data.availability.completed_at), data.status)];
  const s = data.summary;
  if (s) {
    body.push(
      figures('Lock contention summary', [
        ['Lock waits', count(s.lock_wait_count)],
        ['Total wait', ms(s.total_wait_ms)],
        ['Average wait', ms(s.avg_wait_ms)],
        ['Longest wait', ms(s.max_wait_ms)],
        ['Waits without a known duration', count(s.waits_without_duration)],
        ['Unique blockers', count(s.unique_blockers)],
        ['Blockers without ids (Snowflake-internal or short)', count(s.unidentified_blockers)],
      ]),
    );
    if (data.events.length > 0) {
      body.push(
        grid(
          `Lock wait events (one row per blocker)${data.next_cursor ? ', more on the next page' : ''}`,
          ['Requested at (UTC)', 'Wait', 'Waiting query', 'Blocking query', 'Blocking transaction', 'Lock type'],
          data.events.map((e) => [
            e.requested_at ?? '—',
            ms(e.wait_ms),
            e.query_id ?? '—',
            e.blocking_query_id ?? 'unknown',
            e.blocking_transaction_id ?? 'unknown',
            e.lock_type ?? '—',
          ]),
        ),
      );
    }
  }
  return section('lock-contention', 'Lock contention (LOCK_WAIT_HISTORY)', data.test_id, data.status, body);
}

export function hybridCreditsPartial(data: HybridCredits, now: Date): string {
  const body: SafeHtml[] = [statusLine(stateSentence(data, now, data.availability.completed_at), data.status)];
  if (data.status === 'COMPLETED' && data.total_credits !== null) {
    body.push(
      figures('Hybrid table credits attributed to the test', [
        ['Credits (attributed)', formatNumber(data.total_credits, '', 6)],
        ['Requests', count(data.total_requests)],
        ['Usage windows', count(data.windows.length)],
      ]),
    );
    if (data.attribution) body.push(html`<p class="fb-note">${data.attribution.note}</p>
`);
    body.push(
      grid(
        'Usage windows',
        ['Window start (UTC)', 'Window end (UTC)', 'Credits (attributed)', 'Share of window', 'Other tests', 'Requests', 'Billed'],
        data.windows.map((w) => [
          w.start_time ?? '—',
          w.end_time ?? '—',
          formatNumber(w.credits_used, '', 6),
          w.overlap_fraction === null ? NOT_REPORTED : `${formatNumber(w.overlap_fraction * 100, '', 1)} %`,
          count(w.overlapping_tests),
          count(w.requests_count),
          w.billed ? 'yes' : 'no',
        ]),
      ),
    );
  }
  return section('hybrid-credits', 'Hybrid table credits (HYBRID_TABLE_USAGE_HISTORY)', data.test_id, data.status, body);
}

export function queryInsightsPartial(data: QueryInsights, now: Date): string {
  const body: SafeHtml[] = [statusLine(stateSentence(data, now, data.availability.completed_at), data.status)];
  const c = data.counts;
  if (c) {
    body.push(figures('Query insights by severity', [['High', count(c.HIGH)], ['Medium', count(c.MEDIUM)], ['Low', count(c.LOW)], ['Total', count(c.total)]]));
    if (data.insights.length > 0) {
      body.push(
        grid(
          `Insights, most severe first${data.insights_truncated ? ' (list truncated)' : ''}`,
          ['Insight', 'Severity', 'Queries', 'Recommendation', 'Query text'],
          data.insights.map((i) => [i.insight_type, i.severity ?? '—', count(i.affected_query_count), i.recommendation ?? '—', i.query_text ?? '—']),
        ),
      );
    }
  }
  return section('query-insights', 'Query insights (QUERY_INSIGHTS)', data.test_id, data.status, body);
}

export function retryPartial(answer: RetryAnswer): string {
  return section('retry', 'Delayed enrichment retry', answer.test_id, answer.status, [statusLine(answer.message, answer.status)]);
}

export function purgePartial(answer: PurgeAnswer): string {
  const rows = Object.entries(answer.removed).map(([table, n]) => [table, count(n)]);
  return section('purge', 'Delayed enrichment purged', answer.test_id, 'PURGED', [
    statusLine('Enrichment data and job removed', 'PURGED'),
    grid('Rows removed or reset', ['Table', 'Rows'], rows),
  ]);
}

/**
 * Whether a request asks for the HTML partial: the `HX-Request: true` header HTMX sends, or an Accept header
 * that prefers text/html to JSON (q values; on a tie the type listed first wins). Default: JSON.
 */
export function wantsHtml(headers: Record<string, string | string[] | undefined>): boolean {
  const hx = headers['hx-request'];
  if ((Array.isArray(hx) ? hx[0] : hx)?.trim().toLowerCase() === 'true') return true;
  const accept = Array.isArray(headers.accept) ? headers.accept.join(',') : headers.accept;
  if (!accept) return false;
  let html = { q: 0, index: Infinity };
  let json = { q: 0, index: Infinity };
  accept.split(',').forEach((part, index) => {
    const [type = '', ...params] = part.split(';').map((piece) => piece.trim().toLowerCase());
    const qParam = params.find((param) => param.startsWith('q='));
    const parsed = qParam ? Number(qParam.slice(2)) : 1;
    const q = Number.isFinite(parsed) ? Math.min(1, Math.max(0, parsed)) : 0;
    const better = (current: { q: number; index: number }) => (q > current.q ? { q, index } : current);
    if (type === 'text/html') html = better(html);
    else if (type === 'application/json' || type === 'application/*' || type === '*/*') json = better(json);
  });
  if (html.q === 0) return false;
  return html.q > json.q || (html.q === json.q && html.index < json.index);
}
