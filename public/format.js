// How the dashboard writes numbers and times: durations as FlakeBench shows them (`< 1 ms`, `45.2 ms`,
// `1.2 s`, `2:15`), UTC clock times, and "pending until ~HH:MM UTC" for numbers not published yet.
// Pure functions without the DOM (unit-tested in test/dashboard-format.test.ts); types in format.d.ts.

const pad = (n) => String(n).padStart(2, '0');

/**
 * A duration in milliseconds: under 1 ms `< 1 ms`; under a second `45.2 ms` (one decimal); under a
 * minute `1.2 s`; from a minute on `m:ss` (`h:mm:ss` from an hour). Each unit is chosen after rounding,
 * so 999.96 ms is `1.0 s`, not `1000.0 ms`. Null for a missing, negative or non-finite value.
 */
export function formatDuration(ms) {
  if (typeof ms !== 'number' || !Number.isFinite(ms) || ms < 0) return null;
  if (ms < 1) return '< 1 ms';
  const tenthsOfMs = Math.round(ms * 10);
  if (tenthsOfMs < 10_000) return `${(tenthsOfMs / 10).toFixed(1)} ms`;
  const tenthsOfSeconds = Math.round(ms / 100);
  if (tenthsOfSeconds < 600) return `${(tenthsOfSeconds / 10).toFixed(1)} s`;
  const seconds = Math.round(ms / 1000);
  const hours = Math.floor(seconds / 3600);
  const minutes = Math.floor((seconds % 3600) / 60);
  const rest = seconds % 60;
  return hours > 0 ? `${hours}:${pad(minutes)}:${pad(rest)}` : `${minutes}:${pad(rest)}`;
}

/** `14:05 UTC` (with ` on 2026-12-04` when that is not `now`'s UTC day). */
export function clockTime(iso, now, { seconds = false } = {}) {
  const at = new Date(iso);
  if (Number.isNaN(at.getTime())) return null;
  const time = `${pad(at.getUTCHours())}:${pad(at.getUTCMinutes())}${seconds ? `:${pad(at.getUTCSeconds())}` : ''} UTC`;
  const day = at.toISOString().slice(0, 10);
  return day === now.toISOString().slice(0, 10) ? time : `${time} on ${day}`;
}

/** What to show instead of a number that is not there yet: `pending until ~14:05 UTC`, or `pending` without a due time. */
export function pendingUntil(iso, now) {
  if (iso === null || iso === undefined) return 'pending';
  const time = clockTime(iso, now);
  if (time === null) return 'pending';
  return new Date(iso).getTime() > now.getTime() ? `pending until ~${time}` : `pending (due since ~${time})`;
}

/** A count with thousands separators (`48,120`); null when missing. */
export function formatCount(value) {
  return typeof value === 'number' && Number.isFinite(value) ? Math.round(value).toLocaleString('en-US') : null;
}

/** Credits with up to six decimals (`0.012345`); null when missing. */
export function formatCredits(value) {
  return typeof value === 'number' && Number.isFinite(value) ? value.toLocaleString('en-US', { maximumFractionDigits: 6 }) : null;
}
