// Disk faults under a running service: its DATA_DIR is a small ext4 file system (an image held in a tmpfs
// this script mounts, so nothing touches the machine's disk) while it processes a backlog with the real
// enrichment types. Mid-write, two faults, one after the other:
//   read-only — `mount -o remount,ro` first (the kernel refuses it with EBUSY while DuckDB holds the file open
//     for writing, so the script then does what a failing disk does: an ext4 error, errors=remount-ro, the file
//     system goes read-only under the writer); cleared by unmount, e2fsck, mount (the service must let go of
//     the file for that);
//   disk full — a filler file takes every free block; cleared by deleting it.
// For each: /health of the running service turns degraded, then ok once the fault is cleared. At the end every
// job COMPLETED, every job completed before a fault still COMPLETED with its rows, exactly the rows of an
// uninterrupted run of the same backlog (no duplicates, none lost), nothing stuck IN_PROGRESS.
// Needs root with CAP_SYS_ADMIN (mount, losetup); fails with the reason otherwise.
// Run: npx tsx test/reliability/disk-faults.ts [--jobs 20] [--seed 5] [--quick]
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, rmdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { parseArgs } from 'node:util';
import { EMBEDDED_DATABASE_FILE } from '../../src/engine.js';
import { freePort } from '../support/service-process.js';
import { mountTmpfs, type Tmpfs } from '../support/tmpfs.js';
import {
  TARGET_TABLES,
  copyBacklog,
  queueProblems,
  queueRows,
  report,
  rowCountProblems,
  seedBacklog,
  targetRowCounts,
  withDatabase,
  type Backlog,
} from './backlog.js';
import { completedJobs, killChildren, startChild, stop, untilAllComplete, type RunningChild } from './children.js';

const { values } = parseArgs({
  options: { jobs: { type: 'string' }, seed: { type: 'string', default: '5' }, quick: { type: 'boolean', default: false } },
});
const JOBS = Number(values.jobs ?? (values.quick ? 10 : 20));
const SEED = Number(values.seed);
const MAX_ATTEMPTS = 3;
/** Jobs completed before each fault is injected (so the fault lands mid-backlog, after committed work). */
const COMPLETED_BEFORE_FAULT = Math.max(1, Math.floor(JOBS / 4));
/** How long a fault lasts once /health has reported it (the service keeps trying meanwhile). */
const FAULT_HOLD_MS = 3000;
/** "Within a few seconds": longer than this to turn degraded, or to recover once cleared, fails. */
const HEALTH_DEADLINE_MS = 15_000;
const IMAGE_MB = 64;
// Two jobs at a time (claims of one job): with batches the whole backlog runs at once, and nothing would be
// left to meet the second fault.
const CHILD_ENV = { CHILD_TYPES: 'real', LEASE_SECONDS: '2', MAX_CONCURRENT_JOBS: '2', CLAIM_BATCH_SIZE: '1', MAX_ATTEMPTS: String(MAX_ATTEMPTS) };

const run = (command: string, args: string[]) => execFileSync(command, args, { stdio: 'pipe' }).toString('utf8').trim();
const failureText = (error: unknown) =>
  (error instanceof Error && 'stderr' in error ? String((error as { stderr: Buffer }).stderr).trim() : '') || String(error);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** An ext4 file system in an image file on a tmpfs, mounted with errors=remount-ro (the common default). */
interface Disk {
  dataDir: string;
  fill(): void;
  unfill(): void;
  /** `mount -o remount,ro` on the data folder: undefined when it worked, else the kernel's refusal. */
  remountReadOnly(): string | undefined;
  remountWritable(): void;
  /** An ext4 error (what a failing disk raises): the file system turns read-only under every open writer. */
  failFileSystem(): void;
  /** Unmount (waiting until nothing holds a file open), e2fsck, mount again. */
  repair(): Promise<void>;
  release(): void;
}

function mountDisk(): Disk {
  const tmpfs: Tmpfs = mountTmpfs(IMAGE_MB + 8);
  const image = join(tmpfs.path, 'disk.img');
  const dataDir = mkdtempSync(join(tmpdir(), 'fbde-disk-'));
  let mounted = false;
  const mount = () => {
    run('mount', ['-o', 'loop,errors=remount-ro', image, dataDir]);
    mounted = true;
  };
  try {
    run('truncate', ['-s', `${IMAGE_MB}M`, image]);
    run('mkfs.ext4', ['-q', '-F', image]);
    mount();
  } catch (error) {
    rmdirSync(dataDir);
    tmpfs.unmount();
    throw new Error(`cannot make the ext4 data disk (mkfs.ext4 and loop devices needed): ${failureText(error)}`);
  }
  const filler = join(dataDir, '.filler');
  const device = () => basename(run('findmnt', ['-n', '-o', 'SOURCE', dataDir]));
  return {
    dataDir,
    fill() {
      try {
        run('fallocate', ['-l', `${IMAGE_MB}M`, filler]);
      } catch {
        // fallocate refuses more than is free; dd takes what there is, to the last block.
        try {
          run('dd', ['if=/dev/zero', `of=${filler}`, 'bs=64k']);
        } catch {
          // "No space left on device": the point.
        }
      }
    },
    unfill() {
      run('rm', ['-f', filler]);
    },
    remountReadOnly() {
      try {
        run('mount', ['-o', 'remount,ro', dataDir]);
        return undefined;
      } catch (error) {
        return failureText(error);
      }
    },
    remountWritable() {
      run('mount', ['-o', 'remount,rw', dataDir]);
    },
    failFileSystem() {
      writeFileSync(`/sys/fs/ext4/${device()}/trigger_fs_error`, 'disk-faults reliability script');
    },
    async repair() {
      const giveUpAt = Date.now() + HEALTH_DEADLINE_MS;
      for (;;) {
        try {
          run('umount', [dataDir]);
          mounted = false;
          break;
        } catch (error) {
          if (Date.now() > giveUpAt) throw new Error(`the service kept the read-only file system busy: ${failureText(error)}`);
          await sleep(200);
        }
      }
      try {
        run('e2fsck', ['-f', '-y', image]);
      } catch (error) {
        // Exit 1: errors corrected (the error the script raised). Worse is a failure.
        if ((error as { status?: number }).status !== 1) throw new Error(`e2fsck failed: ${failureText(error)}`);
      }
      mount();
    },
    release() {
      if (mounted) {
        try {
          run('umount', [dataDir]);
        } catch {
          run('umount', ['-l', dataDir]);
        }
      }
      rmdirSync(dataDir);
      tmpfs.unmount();
    },
  };
}

interface Health {
  status: string;
  storage: { reason: string; failures: number } | null;
}

/** Asks /health every 100 ms until `done` holds; the time it took, or undefined after HEALTH_DEADLINE_MS. */
async function timeUntilHealth(port: number, done: (health: Health) => boolean): Promise<{ ms?: number; last?: Health }> {
  const started = performance.now();
  let last: Health | undefined;
  while (performance.now() - started < HEALTH_DEADLINE_MS) {
    try {
      last = (await (await fetch(`http://127.0.0.1:${port}/health`)).json()) as Health;
      if (done(last)) return { ms: performance.now() - started, last };
    } catch {
      // not answering right now: ask again
    }
    await sleep(100);
  }
  return last ? { last } : {};
}

interface Fault {
  name: string;
  inject(disk: Disk): Promise<string>;
  clear(disk: Disk): Promise<void>;
}

let readOnlyByRemount = false;
const FAULTS: Fault[] = [
  {
    name: 'read-only',
    async inject(disk) {
      const refusal = disk.remountReadOnly();
      if (refusal === undefined) {
        readOnlyByRemount = true;
        return 'mount -o remount,ro';
      }
      disk.failFileSystem();
      return `ext4 error, remounted read-only (mount -o remount,ro was refused: ${refusal.split('\n')[0]})`;
    },
    async clear(disk) {
      if (readOnlyByRemount) disk.remountWritable();
      else await disk.repair();
    },
  },
  {
    name: 'disk full',
    async inject(disk) {
      disk.fill();
      return 'filler file took every free block';
    },
    async clear(disk) {
      disk.unfill();
    },
  },
];

/** Jobs with no rows in any target table for their test. */
async function rowlessJobs(file: string, jobs: Iterable<string>, backlog: Backlog): Promise<string[]> {
  return withDatabase(file, async (warehouse) => {
    const counts = await targetRowCounts(warehouse);
    return [...jobs].filter((job) => !TARGET_TABLES.some((table) => (counts.get(`${table} ${backlog.jobs.get(job)}`) ?? 0) > 0));
  });
}

const problems: string[] = [];
const figures: string[] = [];
const template = await seedBacklog(JOBS, SEED);
let disk: Disk | undefined;
try {
  // The reference: the same backlog, uninterrupted, on an ordinary folder.
  const clean = copyBacklog(template);
  const first = await startChild(clean.dir, CHILD_ENV);
  await untilAllComplete(first, new Set(), clean);
  await stop(first);
  const reference = await withDatabase(clean.file, targetRowCounts);
  clean.remove();
  if (reference.size === 0) throw new Error('the uninterrupted run wrote no rows: nothing to compare with');

  disk = mountDisk();
  const file = join(disk.dataDir, EMBEDDED_DATABASE_FILE);
  copyFileSync(template.file, file);
  const backlog: Backlog = { ...template, dir: disk.dataDir, file };
  const port = await freePort();
  const child: RunningChild = await startChild(disk.dataDir, { ...CHILD_ENV, CHILD_PORT: String(port) });
  const completedBefore = new Map<string, string>(); // job → the fault it preceded
  for (const fault of FAULTS) {
    const target = completedJobs(child.events).length + COMPLETED_BEFORE_FAULT;
    await child.waitFor((events) => completedJobs(events).length >= target);
    if (completedJobs(child.events).length >= JOBS) throw new Error(`the backlog finished before the ${fault.name} fault: use more --jobs`);
    for (const job of completedJobs(child.events)) if (!completedBefore.has(job)) completedBefore.set(job, fault.name);
    const how = await fault.inject(disk);
    const degraded = await timeUntilHealth(port, (health) => health.status === 'degraded' && health.storage !== null);
    if (degraded.ms === undefined) problems.push(`${fault.name}: /health not degraded within ${HEALTH_DEADLINE_MS / 1000} s (last: ${JSON.stringify(degraded.last)})`);
    // While the fault lasts /health must keep saying so.
    const heldUntil = performance.now() + FAULT_HOLD_MS;
    let okWhileFaulted = 0;
    while (performance.now() < heldUntil) {
      const health = await timeUntilHealth(port, () => true);
      if (health.last?.status === 'ok') okWhileFaulted += 1;
      await sleep(100);
    }
    if (okWhileFaulted > 0) problems.push(`${fault.name}: /health answered ok ${okWhileFaulted} times while the fault lasted`);
    await fault.clear(disk);
    const recovered = await timeUntilHealth(port, (health) => health.status === 'ok' && health.storage === null);
    if (recovered.ms === undefined) problems.push(`${fault.name}: /health not ok within ${HEALTH_DEADLINE_MS / 1000} s of the fault clearing (last: ${JSON.stringify(recovered.last)})`);
    const ms = (value: number | undefined) => (value === undefined ? 'never' : `${(value / 1000).toFixed(1)} s`);
    figures.push(
      `${fault.name} (${how}): degraded after ${ms(degraded.ms)} (${degraded.last?.storage?.reason ?? 'no storage entry'}), ok ${ms(recovered.ms)} after clearing`,
    );
  }
  try {
    await untilAllComplete(child, new Set(), backlog);
    await stop(child);
  } catch (error) {
    // Named job by job below, from the queue as the service left it.
    problems.push((error as Error).message);
    await killChildren();
    if (process.env.DISK_FAULTS_DEBUG) for (const line of child.events.filter((event) => 'msg' in event).slice(-400)) console.log(JSON.stringify(line));
  }
  const rows = await withDatabase(file, async (warehouse) => queueRows(warehouse));
  problems.push(...queueProblems(backlog, rows, { expected: 'COMPLETED', maxAttempts: MAX_ATTEMPTS }));
  for (const row of rows) {
    if (row.status === 'IN_PROGRESS') problems.push(`job ${row.jobId}: stuck IN_PROGRESS`);
    if (row.status === 'COMPLETED') continue;
    const open = Object.entries(row.types).filter(([, state]) => state.status !== 'COMPLETED');
    problems.push(`job ${row.jobId}: ${row.status}, claim ${row.claimId ?? 'none'}, types ${open.map(([type, state]) => `${type} ${state.status} (${state.attempts} attempts)`).join(', ')}`);
  }
  for (const job of await rowlessJobs(file, completedBefore.keys(), backlog)) problems.push(`job ${job}: completed before the ${completedBefore.get(job)} fault, its rows are gone`);
  problems.push(...rowCountProblems(reference, await withDatabase(file, targetRowCounts)));
  figures.push(`${JOBS} jobs, ${completedBefore.size} completed before a fault, ${rows.filter((row) => row.status === 'COMPLETED').length} COMPLETED at the end`);
} catch (error) {
  problems.push((error as Error).message);
} finally {
  await killChildren();
  disk?.release();
  template.remove();
}
report('disk-faults', figures.join('; '), problems);
