// The processor inside the real service: started when ENRICHMENT_ENABLED, probe results and processor
// state in /health answered from memory, stopped with the service.
import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../src/clock.js';
import { startTestService } from './support/embedded.js';

describe('processor in the service', () => {
  let service: Awaited<ReturnType<typeof startTestService>> | undefined;
  afterEach(async () => {
    await service?.stop();
    service = undefined;
  });

  it('probes every view at start and reports processor state in /health without querying', async () => {
    service = await startTestService({ clock: new ManualClock(), env: { ENRICHMENT_ENABLED: 'true' } });
    const { health, warehouse } = service.services;
    expect(health.views.map((probe) => probe.view).sort()).toEqual([
      'AGGREGATE_QUERY_HISTORY',
      'HYBRID_TABLE_USAGE_HISTORY',
      'LOCK_WAIT_HISTORY',
      'QUERY_HISTORY',
      'QUERY_INSIGHTS',
    ]);
    const before = warehouse.counters.statements;
    const response = await service.app.inject({ method: 'GET', url: '/health' });
    expect(response.statusCode).toBe(200);
    const body = response.json() as { views: unknown[]; processor: Record<string, unknown> | null };
    expect(body.views).toHaveLength(5);
    expect(body.processor).toMatchObject({ running: true, max_concurrent_jobs: 3, jobs_claimed: 0, jobs_completed: 0, jobs_failed: 0 });
    expect(body.processor!.registered_types).toEqual(['QUERY_HISTORY', 'AGGREGATE', 'LOCK_CONTENTION', 'HYBRID_CREDITS', 'QUERY_INSIGHTS']);
    expect(warehouse.counters.statements).toBe(before);
  });

  it('has no processor when ENRICHMENT_ENABLED=false', async () => {
    service = await startTestService({ env: { ENRICHMENT_ENABLED: 'false' } });
    const response = await service.app.inject({ method: 'GET', url: '/health' });
    expect((response.json() as { processor: unknown }).processor).toBeNull();
  });
});
