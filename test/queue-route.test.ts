import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startTestService } from './support/embedded.js';
import { insertTests } from './support/processor-fixtures.js';

describe('POST /api/enrichment/jobs', () => {
  let service: Awaited<ReturnType<typeof startTestService>>;
  beforeEach(async () => {
    service = await startTestService();
    await insertTests(service.services.warehouse, [
      { testId: 'api-1', runId: 'r1', tableType: 'HYBRID' },
      { testId: 'api-pg', runId: 'r1', tableType: 'POSTGRES' },
      { testId: 'api-running', runId: 'r1', tableType: 'HYBRID', end: null, status: 'RUNNING' },
    ]);
  });
  afterEach(async () => service.stop());

  const post = (payload: Record<string, unknown>) => service.app.inject({ method: 'POST', url: '/api/enrichment/jobs', payload });
  const body = { test_id: 'api-1', run_id: 'r1', table_type: 'HYBRID', test_end_time: '2026-01-15T11:00:00Z' };

  it('answers 201 for a new job and 200 with the same job for a repeat', async () => {
    const first = await post(body);
    expect(first.statusCode).toBe(201);
    const created = first.json() as { job_id: string; created: boolean; status: string };
    expect(created).toMatchObject({ created: true, status: 'PENDING' });
    const [row] = await service.services.warehouse.query('SELECT JOB_ID FROM DELAYED_ENRICHMENT_QUEUE WHERE TEST_ID = ?', ['api-1']);
    expect(row!.JOB_ID).toBe(created.job_id);
    const again = await post(body);
    expect(again.statusCode).toBe(200);
    expect(again.json()).toEqual({ job_id: created.job_id, created: false, status: 'PENDING' });
  });

  it('POSTGRES → 200 NOT_APPLICABLE and no job', async () => {
    const response = await post({ ...body, test_id: 'api-pg', table_type: 'POSTGRES' });
    expect(response.statusCode).toBe(200);
    expect(response.json()).toEqual({ job_id: null, created: false, status: 'NOT_APPLICABLE' });
  });

  it('rejects bad input with a 400 naming the field, an unknown test with a 404, changing nothing', async () => {
    const bad = await post({ ...body, table_type: 'ICEBERG' });
    expect(bad.statusCode).toBe(400);
    expect((bad.json() as { detail: string }).detail).toMatch(/table_type/);
    const badTime = await post({ ...body, test_end_time: 'yesterday' });
    expect(badTime.statusCode).toBe(400);
    expect((badTime.json() as { detail: string }).detail).toMatch(/test_end_time/);
    const wrongType = await post({ ...body, table_type: 'STANDARD', enrichment_types: ['LOCK_CONTENTION'] });
    expect(wrongType.statusCode).toBe(400);
    expect((wrongType.json() as { detail: string }).detail).toMatch(/LOCK_CONTENTION does not apply to table type STANDARD/);
    const unknown = await post({ ...body, test_id: 'nope' });
    expect(unknown.statusCode).toBe(404);
    expect((unknown.json() as { detail: string }).detail).toMatch(/nope/);
    const [count] = await service.services.warehouse.query('SELECT COUNT(*) AS N FROM DELAYED_ENRICHMENT_QUEUE');
    expect(count!.N).toBe(0);
  });

  it('answers 409 for a test still running (END_TIME NULL) and 422 for a run known only by rows without a TEST_ID', async () => {
    const running = await post({ ...body, test_id: 'api-running' });
    expect(running.statusCode).toBe(409);
    expect(running.json()).toMatchObject({ status: 409, title: 'Conflict' });
    expect((running.json() as { detail: string }).detail).toMatch(/api-running .*has not ended.*END_TIME/);
    await service.services.warehouse.execute(
      `INSERT INTO TEST_RESULTS (TEST_ID, RUN_ID, TEST_NAME, SCENARIO_NAME, TABLE_NAME, TABLE_TYPE, STATUS, START_TIME, END_TIME, CONCURRENT_CONNECTIONS)
       VALUES (NULL, 'r-null', 'n', 's', 'T', 'HYBRID', 'COMPLETED', CAST('2026-01-15 10:00:00' AS TIMESTAMP_NTZ), CAST('2026-01-15 11:00:00' AS TIMESTAMP_NTZ), 2)`,
    );
    const noId = await post({ ...body, test_id: 'r-null', run_id: 'r-null' });
    expect(noId.statusCode).toBe(422);
    expect((noId.json() as { detail: string }).detail).toMatch(/NULL TEST_ID/);
    const [count] = await service.services.warehouse.query('SELECT COUNT(*) AS N FROM DELAYED_ENRICHMENT_QUEUE');
    expect(count!.N).toBe(0);
  });
});
