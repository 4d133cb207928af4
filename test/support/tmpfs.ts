// A small tmpfs the test mounts itself (root with CAP_SYS_ADMIN), for real disk faults under the embedded
// database: disk full (a filler file takes the rest) and read-only (remount). Always unmount in a finally.
import { execFileSync } from 'node:child_process';
import { closeSync, existsSync, mkdtempSync, openSync, rmSync, rmdirSync, writeSync } from 'node:fs';
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

/**
 * Whether this machine can also give the disk-faults script its ext4 data disk: a loop-mounted ext4 image
 * (mkfs.ext4, a loop device) whose kernel error trigger exists. Tried for real, on a 1 MB tmpfs, and undone.
 */
export function ext4DiskAvailable(): { ok: true } | { ok: false; reason: string } {
  let tmpfs: Tmpfs | undefined;
  let mountedAt: string | undefined;
  try {
    tmpfs = mountTmpfs(8);
    const image = join(tmpfs.path, 'probe.img');
    mountedAt = join(tmpfs.path, 'disk');
    execFileSync('truncate', ['-s', '4M', image], { stdio: 'pipe' });
    execFileSync('mkfs.ext4', ['-q', '-F', image], { stdio: 'pipe' });
    execFileSync('mkdir', [mountedAt], { stdio: 'pipe' });
    execFileSync('mount', ['-o', 'loop', image, mountedAt], { stdio: 'pipe' });
    const device = execFileSync('findmnt', ['-n', '-o', 'SOURCE', mountedAt], { encoding: 'utf8' }).trim().split('/').pop() ?? '';
    if (!existsSync(`/sys/fs/ext4/${device}/trigger_fs_error`)) return { ok: false, reason: `no /sys/fs/ext4/${device}/trigger_fs_error on this kernel` };
    return { ok: true };
  } catch (error) {
    const detail = error instanceof Error && 'stderr' in error ? String((error as { stderr: Buffer }).stderr).trim() : '';
    return { ok: false, reason: `cannot make a loop-mounted ext4 disk: ${detail || (error instanceof Error ? error.message : String(error))}` };
  } finally {
    if (mountedAt !== undefined) {
      try {
        execFileSync('umount', [mountedAt], { stdio: 'pipe' });
      } catch {
        // not mounted
      }
    }
    tmpfs?.unmount();
  }
}

/**
 * REQUIRE_MOUNT=1 makes a machine that cannot mount fail the disk-fault tests instead of skipping them. Not
 * implied by CI: a CI machine without mount privileges (a container without CAP_SYS_ADMIN) skips them with the
 * reason printed, rather than failing everything else's run.
 */
export const MOUNT_REQUIRED = process.env.REQUIRE_MOUNT === '1';
