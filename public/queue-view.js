// The queue view: counts by status, ready vs deferred, the alert figures with their levels (from
// GET /api/enrichment/stats), and the latest-changed jobs with their per-type status and due times (from
// GET /api/enrichment/recent-jobs, a bounded list). Retry and cancel show when the tab has a token.
import { ApiError, getJson, postJson, token } from './api.js';
import { el, replaceChildren } from './dom.js';
import { clockTime, formatCount, formatDuration, pendingUntil } from './format.js';

export const JOB_LIST_LIMIT = 50;
const STATUSES = ['PENDING', 'IN_PROGRESS', 'COMPLETED', 'FAILED', 'SKIPPED', 'NOT_APPLICABLE'];
const FIGURE_LABELS = {
  ready_depth: 'Ready jobs',
  oldest_pending_age_seconds: 'Oldest due job waiting',
  failure_rate_24h: 'Failure rate (24 h)',
  average_attempts: 'Attempts per type (24 h)',
  stale_in_progress: 'Claims past their lease',
  completion_lag_seconds: 'Completion lag (24 h)',
};

const statusLabel = (status) => status.replace('_', ' ').toLowerCase();
export const badge = (status) => el('span', { class: `badge badge-${status.toLowerCase()}`, dataset: { status } }, statusLabel(status));

function figureValue(name, value) {
  if (value === null || value === undefined) return 'no data yet';
  if (name.endsWith('_seconds')) return formatDuration(value * 1000);
  if (name === 'failure_rate_24h') return `${(value * 100).toFixed(1)} %`;
  if (name === 'average_attempts') return value.toFixed(2);
  return formatCount(value);
}

export class QueueView {
  constructor(root, { announce, onTokenNeeded, now }) {
    this.root = root;
    this.announce = announce;
    this.onTokenNeeded = onTokenNeeded;
    this.now = now;
    this.statuses = new Map();
    this.build();
  }

  build() {
    this.statsBody = el('div', { class: 'stats' }, el('p', { class: 'muted' }, 'Loading…'));
    this.figuresBody = el('tbody');
    this.jobsBody = el('tbody');
    this.jobsNote = el('p', { class: 'muted', id: 'jobs-note' });
    this.actionStatus = el('p', { class: 'action-status', role: 'status', 'aria-live': 'polite' });
    replaceChildren(
      this.root,
      el('h2', { id: 'queue-heading' }, 'Queue'),
      el('section', { 'aria-labelledby': 'counts-heading' }, el('h3', { id: 'counts-heading' }, 'Jobs by status'), this.statsBody),
      el(
        'section',
        { 'aria-labelledby': 'figures-heading' },
        el('h3', { id: 'figures-heading' }, 'Alert figures'),
        el('table', { class: 'figures' }, el('caption', { class: 'visually-hidden' }, 'Alert figures with their warning and critical levels'),
          el('thead', {}, el('tr', {}, ...['Figure', 'Value', 'Level', 'Warning at', 'Critical at'].map((h) => el('th', { scope: 'col' }, h)))),
          this.figuresBody),
      ),
      el(
        'section',
        { 'aria-labelledby': 'jobs-heading' },
        el('h3', { id: 'jobs-heading' }, 'Jobs, latest change first'),
        this.jobsNote,
        this.actionStatus,
        el('div', { class: 'table-scroll' },
          el('table', { class: 'jobs', 'aria-describedby': 'jobs-note' },
            el('caption', { class: 'visually-hidden' }, `The ${JOB_LIST_LIMIT} most recently changed delayed-enrichment jobs`),
            el('thead', {}, el('tr', {}, ...['Test', 'Table type', 'Status', 'Enrichment types (status, due)', 'Attempts', 'Last error', 'Actions'].map((h) => el('th', { scope: 'col' }, h)))),
            this.jobsBody)),
      ),
    );
  }

  async refreshStats() {
    const stats = await getJson('/api/enrichment/stats');
    const depth = stats.depth_by_status ?? {};
    const card = (label, value, extra = {}) => el('div', { class: 'card', ...extra }, el('span', { class: 'card-label' }, label), el('span', { class: 'card-value' }, value));
    const oldest = stats.figures?.oldest_pending_age_seconds?.value;
    replaceChildren(
      this.statsBody,
      ...STATUSES.map((status) => card(statusLabel(status), formatCount(depth[status] ?? 0), { dataset: { count: status } })),
      card('ready now', formatCount(stats.ready), { dataset: { count: 'ready' } }),
      card('deferred', formatCount(stats.deferred), { dataset: { count: 'deferred' } }),
      card('oldest due waiting', stats.ready === 0 ? 'none' : oldest === null || oldest === undefined ? 'no data' : formatDuration(oldest * 1000)),
      card('overall level', stats.level, { class: `card level-${stats.level}`, dataset: { level: stats.level } }),
    );
    replaceChildren(
      this.figuresBody,
      ...Object.entries(stats.figures ?? {}).map(([name, figure]) =>
        el('tr', { dataset: { figure: name } },
          el('th', { scope: 'row' }, FIGURE_LABELS[name] ?? name, el('span', { class: 'why' }, figure.why)),
          el('td', { class: 'n' }, figureValue(name, figure.value)),
          el('td', {}, el('span', { class: `level level-${figure.level}` }, figure.level)),
          el('td', { class: 'n' }, figureValue(name, figure.warning)),
          el('td', { class: 'n' }, figureValue(name, figure.critical))),
      ),
    );
  }

  async refreshJobs() {
    const answer = await getJson(`/api/enrichment/recent-jobs?limit=${JOB_LIST_LIMIT}`);
    const now = this.now();
    const changes = [];
    const focused = document.activeElement?.closest?.('tr[data-job-id]');
    const focusedAction = document.activeElement?.dataset?.action;
    const rows = answer.jobs.map((job) => {
      const before = this.statuses.get(job.job_id);
      if (before !== undefined && before !== job.status) changes.push(`${job.test_name ?? job.test_id}: ${statusLabel(job.status)}`);
      return this.row(job, now);
    });
    // Only the listed jobs are remembered: the map stays as small as the list.
    this.statuses = new Map(answer.jobs.map((job) => [job.job_id, job.status]));
    replaceChildren(this.jobsBody, ...rows);
    if (rows.length === 0) this.jobsBody.append(el('tr', {}, el('td', { colspan: 7, class: 'muted' }, 'No jobs yet.')));
    this.jobsNote.textContent = `Showing the ${answer.jobs.length} most recently changed jobs (at most ${JOB_LIST_LIMIT}), as of ${clockTime(answer.at, now, { seconds: true })}.`;
    if (focused) {
      const again = this.jobsBody.querySelector(`tr[data-job-id="${CSS.escape(focused.dataset.jobId)}"] [data-action="${focusedAction}"]`);
      again?.focus();
    }
    if (changes.length > 0) this.announce(changes.slice(0, 5).join('; ') + (changes.length > 5 ? `; and ${changes.length - 5} more` : ''));
  }

  row(job, now) {
    const types = el('ul', { class: 'types' }, ...job.types.map((type) => {
      const when =
        type.status === 'PENDING' ? pendingUntil(type.due_at, now)
        : type.status === 'IN_PROGRESS' ? 'running now'
        : type.completed_at ? `done ${clockTime(type.completed_at, now)}` : '';
      return el('li', { dataset: { type: type.type, status: type.status } }, el('span', { class: 'type-name' }, type.type), ' ', badge(type.status), when ? el('span', { class: 'when' }, ` ${when}`) : null);
    }));
    const actions = el('td', { class: 'actions' });
    if (token.get()) {
      const name = job.test_name ?? job.test_id;
      const failed = job.types.some((type) => type.status === 'FAILED');
      if (job.status === 'FAILED' || (job.status === 'COMPLETED' && failed)) {
        actions.append(el('button', { type: 'button', dataset: { action: 'retry' }, 'aria-label': `Retry the failed types of ${name}`, onclick: () => this.act(job, 'retry') }, 'Retry'));
      }
      if (job.status === 'PENDING' || job.status === 'IN_PROGRESS') {
        actions.append(el('button', { type: 'button', dataset: { action: 'cancel' }, 'aria-label': `Cancel the job of ${name}`, onclick: () => this.act(job, 'cancel') }, 'Cancel'));
      }
    }
    return el(
      'tr',
      { dataset: { jobId: job.job_id, testId: job.test_id, status: job.status, tableType: job.table_type } },
      el('td', {}, el('a', { href: `#/tests/${encodeURIComponent(job.test_id)}` }, job.test_name ?? job.test_id), el('span', { class: 'id' }, job.test_id)),
      el('td', {}, job.table_type),
      el('td', {}, badge(job.status)),
      el('td', {}, types),
      el('td', { class: 'n' }, formatCount(job.attempts)),
      el('td', { class: 'error' }, job.last_error ?? ''),
      actions,
    );
  }

  async act(job, action) {
    const name = job.test_name ?? job.test_id;
    try {
      await postJson(`/api/enrichment/jobs/${encodeURIComponent(job.job_id)}/${action}`, action === 'retry' ? {} : undefined);
      this.actionStatus.textContent = action === 'retry' ? `Retry queued for ${name}.` : `Cancelled the job of ${name}.`;
    } catch (error) {
      if (error instanceof ApiError && error.status === 401) this.onTokenNeeded();
      this.actionStatus.textContent = `Could not ${action} ${name}: ${error instanceof ApiError ? error.detail : String(error)}`;
    }
    await this.refreshJobs().catch(() => undefined);
  }
}
