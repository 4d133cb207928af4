// A small tmpfs the test mounts itself (root with CAP_SYS_ADMIN), for real disk faults under the embedded
// database: disk full (a filler file takes the rest) and read-only (remount). Always unmount in a finally.
import { execFileSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, rmSync, rmdirSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface Tmpfs {
  path: string;
  /** Writes a filler file until the tmpfs has no space left. */
  fill(): void;
  /** Deletes the filler: the space is back. */
  unfill(): void;
  /** `mount -o remount,ro|rw`; throws the kernel's refusal (EBUSY while a file is open for writing). */
  remount(mode: 'ro' | 'rw'): void;
  unmount(): void;
}

const FILLER = '.filler';

/** Mounts a tmpfs of `sizeMb` on a fresh folder; throws with the reason when this machine cannot mount. */
export function mountTmpfs(sizeMb: number): Tmpfs {
  const path = mkdtempSync(join(tmpdir(), 'fbde-tmpfs-'));
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${sizeMb}m`, 'tmpfs', path], { stdio: 'pipe' });
  } catch (error) {
    rmdirSync(path);
    const detail = error instanceof Error && 'stderr' in error ? String((error as { stderr: Buffer }).stderr).trim() : String(error);
    throw new Error(`cannot mount a tmpfs (needs root with CAP_SYS_ADMIN): ${detail || 'mount failed'}`);
  }
  let mounted = true;
  return {
    path,
    fill() {
      const fd = openSync(join(path, FILLER), 'a');
      const chunk = Buffer.alloc(1 << 20);
      try {
        for (;;) writeSync(fd, chunk);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'ENOSPC') throw error;
        // The last partial megabyte: fill to the byte, so even a small WAL append finds no room.
        try {
          for (;;) writeSync(fd, chunk, 0, 4096);
        } catch {
          // full
        }
      } finally {
        closeSync(fd);
      }
    },
    unfill() {
      rmSync(join(path, FILLER), { force: true });
    },
    remount(mode) {
      execFileSync('mount', ['-o', `remount,${mode}`, path], { stdio: 'pipe' });
    },
    unmount() {
      if (!mounted) return;
      execFileSync('umount', [path], { stdio: 'pipe' });
      mounted = false;
      rmdirSync(path);
    },
  };
}

/** Whether this machine can mount a tmpfs here, and if not why (for a visible skip). */
export function tmpfsAvailable(): { ok: true } | { ok: false; reason: string } {
  try {
    mountTmpfs(1).unmount();
    return { ok: true };
  } catch (error) {
    return { ok: false, reason: error instanceof Error ? error.message : String(error) };
  }
}

/** CI (or REQUIRE_MOUNT=1) must run the disk-fault tests: a missing mount fails there instead of skipping. */
export const MOUNT_REQUIRED = Boolean(process.env.CI) || process.env.REQUIRE_MOUNT === '1';
