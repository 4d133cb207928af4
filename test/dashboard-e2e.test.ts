// The dashboard in a real browser: Debian's chromium driven by playwright-core, against the demo (service +
// simulator) as a child process. The page must show a simulated job reaching COMPLETED without a reload,
// show in the test view the very numbers the API answers (fetched here independently), survive a SIGKILL of
// the server and its restart on the same port and database, keep the console free of errors, and never
// leave loopback. Screenshots go to .tmp/screenshots/ (ignored by git).
//
// Without /usr/bin/chromium the test is skipped on a developer machine (apt-get install chromium); under CI
// (`.ci/run` sets REQUIRE_BROWSER=1 and installs it) a missing browser fails instead.
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { formatCount, formatCredits, formatDuration, pendingUntil } from '../public/format.js';
import { freePort, startDemo, stopDemo, type DemoProcess } from './support/service-process.js';

/** Debian's chromium; CHROMIUM_PATH points elsewhere (e.g. to check the skip and the CI failure). */
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const HAVE_CHROMIUM = existsSync(CHROMIUM);
const REQUIRED = process.env.REQUIRE_BROWSER === '1';
if (!HAVE_CHROMIUM && !REQUIRED) console.warn(`dashboard browser test skipped: no ${CHROMIUM} (install it with: apt-get install chromium)`);
const SCREENSHOTS = fileURLToPath(new URL('../.tmp/screenshots/', import.meta.url));
// No traffic beyond loopback: no background services, no QUIC, and every host name but loopback unresolvable.
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1',
];
/** Jobs of the demo complete about 30 s after their test ends (LATENCY_SCALE 0.002); a loaded machine is slower. */
const COMPLETION_TIMEOUT_MS = 150_000;
const TOKEN = 'dashboard-e2e-token-0123456789';
const RECONNECT_TIMEOUT_MS = 60_000;

const isLoopback = (url: string) => {
  const { protocol, hostname } = new URL(url);
  if (protocol === 'data:' || protocol === 'about:') return true;
  return hostname === '127.0.0.1' || hostname === 'localhost' || hostname === '[::1]';
};

interface ConsoleEntry {
  at: number;
  type: string;
  text: string;
}

async function api<T>(base: string, path: string): Promise<T> {
  const response = await fetch(new URL(path, base));
  expect(response.status, `${path}: ${await response.clone().text()}`).toBe(200);
  return (await response.json()) as T;
}

/** Every `[data-field]` of the page: its text and raw value. */
async function fields(page: Page): Promise<Map<string, { text: string; value: string }>> {
  // Runs in the page (this file has no DOM types: the nodes are typed by hand).
  const entries = await page.$$eval('[data-field]', (nodes) =>
    (nodes as unknown as Array<{ dataset: Record<string, string | undefined>; textContent: string | null }>).map(
      (node) => [node.dataset.field ?? '', { text: node.textContent ?? '', value: node.dataset.value ?? '' }] as const,
    ),
  );
  return new Map(entries);
}

/**
 * Runs in the page: the WCAG contrast ratio of every element matched by `selector` that shows text, against
 * the first opaque background up its ancestors (white at the top). Returns those below `minimum`.
 */
function lowContrast([selector, minimum]: [string, number]): string[] {
  type Node = { textContent: string | null; parentElement: Node | null; className: string };
  const page = globalThis as unknown as { document: { querySelectorAll(s: string): Iterable<Node> }; getComputedStyle(n: Node): { color: string; backgroundColor: string } };
  const rgb = (text: string) => (text.match(/[\d.]+/g) ?? []).map(Number);
  const luminance = ([r, g, b]: number[]) => {
    const channel = (v: number) => ((v /= 255) <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4);
    return 0.2126 * channel(r!) + 0.7152 * channel(g!) + 0.0722 * channel(b!);
  };
  const failures: string[] = [];
  for (const node of page.document.querySelectorAll(selector)) {
    if (!node.textContent?.trim()) continue;
    let background = [255, 255, 255];
    for (let at: Node | null = node; at; at = at.parentElement) {
      const parts = rgb(page.getComputedStyle(at).backgroundColor);
      if (parts.length === 3 || (parts.length === 4 && parts[3]! > 0.99)) {
        background = parts.slice(0, 3);
        break;
      }
    }
    const [a, b] = [luminance(rgb(page.getComputedStyle(node).color)), luminance(background)];
    const ratio = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
    if (ratio < minimum) failures.push(`${node.className} "${node.textContent.trim().slice(0, 30)}": ${ratio.toFixed(2)}`);
  }
  return failures;
}

describe('dashboard in headless Chromium', () => {
  it.runIf(!HAVE_CHROMIUM && REQUIRED)('needs Debian chromium under CI (REQUIRE_BROWSER=1)', () => {
    throw new Error(`${CHROMIUM} is missing and REQUIRE_BROWSER=1: install it with apt-get install chromium (.ci/run does)`);
  });

  it.skipIf(!HAVE_CHROMIUM)(
    `shows jobs completing live, the API's numbers in the test view, and recovers from a server kill (skipped without ${CHROMIUM}: apt-get install chromium)`,
    async () => {
      mkdirSync(SCREENSHOTS, { recursive: true });
      const dataDir = mkdtempSync(join(tmpdir(), 'fbde-e2e-data-'));
      const profile = mkdtempSync(join(tmpdir(), 'fbde-e2e-chromium-'));
      const port = await freePort();
      // API_TOKEN protects the mutating routes (reads stay open): the page's retry/cancel need it.
      const env = { DEMO_SIMULATE_EVERY_SECONDS: '4', QUEUE_STATS_PUSH_SECONDS: '5', API_TOKEN: TOKEN };
      let demo: DemoProcess | undefined;
      let context: BrowserContext | undefined;
      try {
        demo = await startDemo(port, dataDir, env);
        expect(demo.url).toBe(`http://127.0.0.1:${port}/`);
        const base = demo.url;

        context = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS, viewport: { width: 1280, height: 900 } });
        const blocked: string[] = [];
        await context.route('**/*', (route) => {
          const url = route.request().url();
          if (isLoopback(url)) return route.continue();
          blocked.push(url);
          return route.abort('blockedbyclient');
        });
        const page = context.pages()[0] ?? (await context.newPage());
        const consoleEntries: ConsoleEntry[] = [];
        const pageErrors: string[] = [];
        const sockets: string[] = [];
        page.on('console', (message) => consoleEntries.push({ at: Date.now(), type: message.type(), text: message.text() }));
        page.on('pageerror', (error) => pageErrors.push(error.message));
        page.on('websocket', (socket) => sockets.push(socket.url()));
        await page.goto(base);
        // A reload would drop this mark: it must still be there at the end.
        await page.evaluate('window.loadedOnce = true');
        const notReloaded = async () => expect(await page.evaluate('window.loadedOnce === true')).toBe(true);
        await page.locator('#connection[data-state="live"]').waitFor({ timeout: 30_000 });
        expect(await page.locator('h1').textContent()).toBe('FlakeBench delayed enrichment');

        // A hybrid job seen before it completed, then completed in the same page (no reload).
        const waiting = page.locator('tr[data-job-id][data-table-type="HYBRID"]:not([data-status="COMPLETED"])').first();
        await waiting.waitFor({ timeout: COMPLETION_TIMEOUT_MS });
        const jobId = (await waiting.getAttribute('data-job-id'))!;
        const testId = (await waiting.getAttribute('data-test-id'))!;
        await page.screenshot({ path: join(SCREENSHOTS, 'dashboard-queue-waiting.png'), fullPage: true });
        // A pending type says when it is due, as the job's API detail has it (read again until both agree:
        // the type may complete between the two reads).
        await expect
          .poll(async () => {
            const detail = await api<{ types: Array<{ type: string; status: string; due_at: string }> }>(base, `/api/enrichment/jobs/${jobId}`);
            const pendingType = detail.types.find((type) => type.status === 'PENDING');
            if (!pendingType) return 'no pending type left';
            const shown = await page.locator(`tr[data-job-id="${jobId}"] li[data-type="${pendingType.type}"][data-status="PENDING"] .when`).textContent({ timeout: 2_000 }).catch(() => null);
            return shown === ` ${pendingUntil(pendingType.due_at, new Date())}` || shown === null ? 'consistent' : `shown "${shown}" for due ${pendingType.due_at}`;
          }, { timeout: 30_000 })
          .toMatch(/^(consistent|no pending type left)$/);
        const waitingSince = Date.now();
        const done = page.locator(`tr[data-job-id="${jobId}"][data-status="COMPLETED"]`);
        await done.waitFor({ timeout: COMPLETION_TIMEOUT_MS });
        console.info(`dashboard e2e: job ${jobId} shown COMPLETED ${((Date.now() - waitingSince) / 1000).toFixed(1)} s after it was first seen waiting`);
        await notReloaded();
        await page.screenshot({ path: join(SCREENSHOTS, 'dashboard-queue-completed.png'), fullPage: true });
        // Landmarks, headings, labels, a live region, and text contrast of at least 4.5:1 (WCAG AA).
        for (const role of ['banner', 'navigation', 'main'] as const) expect(await page.getByRole(role).count(), role).toBe(1);
        expect(await page.getByRole('heading', { level: 1 }).count()).toBe(1);
        expect(await page.getByRole('heading', { level: 2, name: 'Queue' }).count()).toBe(1);
        expect(await page.getByLabel('API token').count()).toBe(1);
        expect(await page.locator('[aria-live="polite"]').count()).toBeGreaterThanOrEqual(2);
        expect(await page.evaluate(lowContrast, ['body *', 4.5] as [string, number])).toEqual([]);

        // No actions before a token; once entered (kept in sessionStorage only), cancel works from the keyboard.
        expect(await page.locator('button[data-action]').count()).toBe(0);
        await page.getByLabel('API token').fill(TOKEN);
        await page.keyboard.press('Enter');
        const cancel = page.locator('tr[data-job-id][data-status="PENDING"] button[data-action="cancel"]').first();
        await cancel.waitFor({ timeout: 30_000 });
        const storage = (await page.evaluate('({ session: sessionStorage.length, local: localStorage.length, cookie: document.cookie, url: location.href })')) as Record<string, unknown>;
        expect(storage).toEqual({ session: 1, local: 0, cookie: '', url: base });
        // A row shown PENDING may have completed by the time the request arrives (the demo's jobs take seconds,
        // and a loaded machine delays the page), or be written by the processor while the cancel is applied:
        // the service then refuses with a 409 the page shows. Such a refusal must name a job that really is
        // terminal, or say that the job kept changing (try again); the next PENDING row is tried then.
        let cancelledJob: string | undefined;
        for (let tries = 0; cancelledJob === undefined && tries < 5; tries += 1) {
          await cancel.waitFor({ timeout: 30_000 });
          const candidate = (await cancel.locator('xpath=ancestor::tr').getAttribute('data-job-id'))!;
          await page.locator('.action-status').evaluate((node) => (node.textContent = ''));
          await cancel.focus();
          await page.keyboard.press('Enter');
          await expect.poll(() => page.locator('.action-status').textContent(), { timeout: 30_000 }).toMatch(/^(Cancelled the job of|Could not cancel)/);
          const answer = (await page.locator('.action-status').textContent()) ?? '';
          if (/^Cancelled/.test(answer)) cancelledJob = candidate;
          else if (!/the job kept changing while being updated; try again$/.test(answer))
            expect(['COMPLETED', 'FAILED', 'SKIPPED', 'NOT_APPLICABLE'], answer).toContain((await api<{ status: string }>(base, `/api/enrichment/jobs/${candidate}`)).status);
        }
        expect(cancelledJob, 'no PENDING job could be cancelled in 5 tries').toBeDefined();
        await page.locator(`tr[data-job-id="${cancelledJob}"][data-status="SKIPPED"]`).waitFor({ timeout: 30_000 });
        expect((await api<{ status: string }>(base, `/api/enrichment/jobs/${cancelledJob}`)).status).toBe('SKIPPED');
        await expect.poll(() => page.locator('.action-status').textContent()).toMatch(/^Cancelled the job of /);

        const jobIdsShown = `[...document.querySelectorAll('tr[data-job-id]')].map((row) => ({ id: row.dataset.jobId, status: row.dataset.status }))`;
        const seenBefore = new Set(((await page.evaluate(jobIdsShown)) as Array<{ id: string }>).map((row) => row.id));

        // The test view shows the API's numbers, formatted as FlakeBench shows them.
        await done.locator('a').click();
        await page.locator('[data-field="overall.server.p95_ms"]').waitFor({ timeout: 30_000 });
        await page.locator('[data-field="insights.total"]').waitFor({ timeout: 30_000 });
        const path = (what: string) => `/api/tests/${encodeURIComponent(testId)}/${what}`;
        const server = await api<{ status: string; aggregate_metrics: Record<string, number> & { patterns: Array<Record<string, number> & { hash: string }> } }>(base, path('server-metrics'));
        const client = await api<{ recorded: Record<string, number>; by_kind: Array<Record<string, number> & { query_kind: string }> }>(base, path('client-latencies'));
        const locks = await api<{ status: string; summary: { lock_wait_count: number; max_wait_ms: number | null } }>(base, path('lock-contention?limit=500'));
        const credits = await api<{ status: string; total_credits: number | null; total_requests: number | null }>(base, path('hybrid-credits'));
        const insights = await api<{ status: string; counts: Record<string, number> }>(base, path('query-insights'));
        expect(server.status).toBe('COMPLETED');
        const shown = await fields(page);
        const expectDuration = (field: string, value: number | null | undefined) => {
          expect(shown.get(field), field).toEqual({ text: value === null || value === undefined ? 'not reported' : formatDuration(value), value: value === null || value === undefined ? '' : String(value) });
        };
        const m = server.aggregate_metrics;
        expectDuration('overall.server.p50_ms', m.exec_median_ms);
        expectDuration('overall.server.p95_ms', m.exec_p95_ms);
        expectDuration('overall.server.p99_ms', m.exec_p99_ms);
        expectDuration('overall.server.max_ms', m.exec_max_ms);
        expect(shown.get('overall.server.n')?.text).toBe(formatCount(m.total_queries));
        expectDuration('overall.client.p50_ms', client.recorded.p50_ms);
        expectDuration('overall.client.p95_ms', client.recorded.p95_ms);
        expectDuration('overall.client.p99_ms', client.recorded.p99_ms);
        expectDuration('overall.client.max_ms', client.recorded.max_ms);
        expect(m.patterns.length).toBeGreaterThan(0);
        for (const pattern of m.patterns) {
          expectDuration(`pattern.${pattern.hash}.server.p50_ms`, pattern.exec_median_ms);
          expectDuration(`pattern.${pattern.hash}.server.p95_ms`, pattern.exec_p95_ms);
          expectDuration(`pattern.${pattern.hash}.server.p99_ms`, pattern.exec_p99_ms);
        }
        expect(client.by_kind.length).toBeGreaterThan(0);
        for (const kind of client.by_kind) {
          expectDuration(`bykind.${kind.query_kind}.p95_ms`, kind.p95_ms);
          expect(shown.get(`bykind.${kind.query_kind}.executions`)?.text).toBe(formatCount(kind.executions));
        }
        expect(insights.status).toBe('COMPLETED');
        for (const name of ['total', 'HIGH', 'MEDIUM', 'LOW']) expect(shown.get(`insights.${name}`)?.value, name).toBe(String(insights.counts[name]));
        expect(locks.status).toBe('COMPLETED');
        expect(shown.get('locks.lock_wait_count')).toEqual({ text: formatCount(locks.summary.lock_wait_count), value: String(locks.summary.lock_wait_count) });
        expectDuration('locks.max_wait_ms', locks.summary.max_wait_ms);
        expect(credits.status).toBe('COMPLETED');
        if (credits.total_credits !== null) expect(shown.get('credits.total_credits')?.text).toBe(formatCredits(credits.total_credits));
        // The charts are drawn (SVG images with a title), not only tables.
        expect(await page.locator('svg.chart-latency[role="img"] rect.seg').count()).toBeGreaterThan(0);
        if (locks.summary.lock_wait_count > 0) expect(await page.locator('svg.chart-locks line.wait').count()).toBeGreaterThan(0);
        await page.screenshot({ path: join(SCREENSHOTS, 'dashboard-test-view.png'), fullPage: true });
        const seqBeforeKill = (await page.evaluate('window.dashboard.lastSeq()')) as number;
        expect(seqBeforeKill).toBeGreaterThan(0);

        // SIGKILL: the page notices and keeps trying; a restart on the same port and database brings it back.
        const downFrom = Date.now();
        demo.child.kill('SIGKILL');
        expect((await demo.exited).signal).toBe('SIGKILL');
        await page.locator('#connection[data-state="reconnecting"]').waitFor({ timeout: RECONNECT_TIMEOUT_MS });
        await page.screenshot({ path: join(SCREENSHOTS, 'dashboard-reconnecting.png'), fullPage: true });
        demo = await startDemo(port, dataDir, env);
        const downUntil = Date.now();
        await page.locator('#connection[data-state="live"]').waitFor({ timeout: RECONNECT_TIMEOUT_MS });
        await page.getByRole('link', { name: '← Back to the queue' }).click();
        // A job the page had not seen before the kill completes after the restart, still without a reload.
        // A function, not a string: the page's CSP forbids eval. It runs in the page (no DOM types here).
        await page.waitForFunction(
          (before: string[]) => {
            const rows = (globalThis as unknown as { document: { querySelectorAll(s: string): Iterable<{ dataset: Record<string, string> }> } }).document.querySelectorAll(
              'tr[data-job-id][data-status="COMPLETED"]',
            );
            return [...rows].some((row) => !before.includes(row.dataset.jobId ?? ''));
          },
          [...seenBefore],
          { timeout: COMPLETION_TIMEOUT_MS, polling: 500 },
        );
        await notReloaded();
        expect((await page.evaluate('window.dashboard.lastSeq()')) as number).toBeGreaterThan(seqBeforeKill);
        await page.screenshot({ path: join(SCREENSHOTS, 'dashboard-recovered.png'), fullPage: true });
        // The job list stays bounded however long the tab is open.
        expect(await page.locator('tr[data-job-id]').count()).toBeLessThanOrEqual(50);

        // No script errors at all; console errors only from the browser's own refused connections while the
        // server was down (every retry to the dead port logs one), none before or after.
        expect(pageErrors).toEqual([]);
        const errors = consoleEntries.filter((entry) => entry.type === 'error');
        const outsideDowntime = errors.filter((entry) => entry.at < downFrom || entry.at > downUntil + 1000);
        expect(outsideDowntime).toEqual([]);
        for (const entry of errors) expect(entry.text).toMatch(/ERR_CONNECTION_REFUSED|ERR_CONNECTION_RESET|ERR_EMPTY_RESPONSE|WebSocket connection to 'ws:\/\/127\.0\.0\.1:\d+\/ws' failed/);
        expect(blocked).toEqual([]);
        expect(sockets.every(isLoopback)).toBe(true);
      } finally {
        await context?.close();
        if (demo) await stopDemo(demo);
        rmSync(profile, { recursive: true, force: true });
        rmSync(dataDir, { recursive: true, force: true });
      }
    },
    600_000,
  );
});

