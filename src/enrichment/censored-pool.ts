// The distribution of all executions behind a set of AGGREGATE_QUERY_HISTORY rows, from what each row pins
// down (row-order-statistics.ts): the executions a row determines count as they are; the members of a censored
// run (consecutive executions between two known values) are spread over their interval in proportion to the
// pooled distribution itself, which is the self-consistency (EM) estimate for interval-censored data (Turnbull,
// 1976). Given its two bounding order statistics, the members of a run are a sample of the distribution
// truncated to the interval, so where the other rows show no executions (the gap between a fast mode and a slow
// one), none are put. The intervals alone cannot tell how many of a run's members sit high (the few slow calls
// of a row), but the row's sum can: the last passes tilt each row's share by exp(λ·x) so that its members add
// up to the row's sum less its exact executions. The start is an interpolation within each row (locally
// log-normal between its anchors). Values live on a grid of cells (log scale when every value is positive);
// exact values stay exact.
import { normalQuantile } from './normal.js';
import type { CensoredRun, RowOrderStatistics } from './row-order-statistics.js';
import type { Steps } from './steps.js';

const BINS = 1024;
/** EM passes: enough for mass in an empty gap to drain away, few enough to stay cheap (O(runs + bins) each). */
const PASSES = 40;
/** Start placement: at most this many points per run (each carrying count / points executions). */
const START_POINTS = 8;
/** Passes that also match each row's sum (each costs a few sweeps over every run's cells). */
const TILTED_PASSES = 3;

/** One run's cells: members spread over them in proportion to weight · exp(λ·x). */
class RunCells {
  /** The largest magnitude among the cells: a row's λ is expressed per unit of its runs' largest. */
  readonly extent: number;
  constructor(
    readonly count: number,
    readonly first: number,
    private readonly weight: Float64Array,
    private readonly x: Float64Array,
  ) {
    this.extent = Math.max(1e-300, Math.abs(x[x.length - 1] as number), Math.abs(x[0] as number));
  }

  /** Mean of the members under the tilt, and their variance (the mean's derivative in λ, times scale). */
  moments(lambda: number, scale: number): { mean: number; variance: number } {
    const ref = lambda > 0 ? (this.x[this.x.length - 1] as number) : (this.x[0] as number);
    let s0 = 0;
    let s1 = 0;
    let s2 = 0;
    for (let k = 0; k < this.x.length; k += 1) {
      const xk = this.x[k] as number;
      const w = (this.weight[k] as number) * Math.exp((lambda * (xk - ref)) / scale);
      s0 += w;
      s1 += w * xk;
      s2 += w * xk * xk;
    }
    if (s0 <= 0) return { mean: ((this.x[0] as number) + (this.x[this.x.length - 1] as number)) / 2, variance: 0 };
    const mean = s1 / s0;
    return { mean, variance: Math.max(0, s2 / s0 - mean * mean) };
  }

  /** The members per cell under the tilt. */
  tilted(lambda: number, scale: number): Float64Array {
    const ref = lambda > 0 ? (this.x[this.x.length - 1] as number) : (this.x[0] as number);
    const out = new Float64Array(this.x.length);
    let total = 0;
    for (let k = 0; k < this.x.length; k += 1) {
      out[k] = (this.weight[k] as number) * Math.exp((lambda * ((this.x[k] as number) - ref)) / scale);
      total += out[k] as number;
    }
    for (let k = 0; k < out.length; k += 1) out[k] = total > 0 ? ((out[k] as number) * this.count) / total : this.count / out.length;
    return out;
  }
}

/**
 * λ such that the tilted runs' members add up to `target` (safeguarded Newton on a bracket, from `start`), to a
 * ten-thousandth of the target: finer than that the published sums do not say.
 */
function tiltFor(cells: RunCells[], target: number, start: number, scale: number): number {
  const expected = (lambda: number) => {
    let mean = 0;
    let slope = 0;
    for (const cell of cells) {
      const m = cell.moments(lambda, scale);
      mean += cell.count * m.mean;
      slope += (cell.count * m.variance) / scale;
    }
    return { mean, slope };
  };
  let lo = -200;
  let hi = 200;
  let lambda = start;
  for (let i = 0; i < 20; i += 1) {
    const { mean, slope } = expected(lambda);
    const gap = mean - target;
    if (Math.abs(gap) <= 1e-4 * Math.max(1, Math.abs(target))) return lambda;
    if (gap > 0) hi = lambda;
    else lo = lambda;
    const step = slope > 0 ? lambda - gap / slope : Number.NaN;
    lambda = step > lo && step < hi ? step : (lo + hi) / 2;
  }
  return lambda;
}

/** A row's pinned executions and censored runs, with the group whose distribution it shares. */
export type PoolRow = RowOrderStatistics & { group?: string };

export class CensoredPool {
  readonly total: number;
  private readonly exact: Float64Array;
  private readonly lo: number;
  private readonly width: number;
  private readonly log: boolean;
  private readonly mass: Float64Array;
  private readonly massBelow: Float64Array;
  private readonly groups: PoolRow[][];
  private readonly passes: number;

  /**
   * Rows of one group are taken to share a distribution (one query pattern, one stretch of time); groups are
   * estimated apart and then added up, so a run of one pattern is never drawn towards another pattern's executions.
   * The estimate itself runs in fit().
   */
  constructor(rows: readonly PoolRow[], passes = PASSES) {
    this.exact = Float64Array.from(rows.flatMap((row) => row.exact)).sort();
    this.total = rows.reduce((acc, row) => acc + row.exact.length + row.runs.reduce((sum, run) => sum + run.count, 0), 0);
    let low = this.exact.length > 0 ? (this.exact[0] as number) : Infinity;
    let high = this.exact.length > 0 ? (this.exact[this.exact.length - 1] as number) : -Infinity;
    for (const row of rows) {
      for (const run of row.runs) {
        low = Math.min(low, run.lower);
        high = Math.max(high, run.upper);
      }
    }
    this.log = low > 0;
    this.lo = this.log ? Math.log(low) : low;
    this.width = high > low ? ((this.log ? Math.log(high) : high) - this.lo) / BINS : 1;
    this.mass = new Float64Array(BINS);
    this.massBelow = new Float64Array(BINS + 1);
    const groups = new Map<string, PoolRow[]>();
    for (const row of rows) {
      if (row.runs.length === 0) continue;
      const key = row.group ?? '';
      const list = groups.get(key);
      if (list) list.push(row);
      else groups.set(key, [row]);
    }
    this.groups = [...groups.values()];
    this.passes = passes;
  }

  /** The estimate, as steps (steps.ts): it yields between passes and rows; quantile() needs it finished. */
  *fit(): Steps<void> {
    for (const group of this.groups) {
      const mass = yield* this.groupMass(group, this.passes);
      for (let b = 0; b < BINS; b += 1) this.mass[b] = (this.mass[b] as number) + (mass[b] as number);
    }
    for (let b = 0; b < BINS; b += 1) this.massBelow[b + 1] = (this.massBelow[b] as number) + (this.mass[b] as number);
  }

  /** Grid coordinate (in cells) of a value. */
  private at(x: number): number {
    return ((this.log ? Math.log(Math.max(x, Number.MIN_VALUE)) : x) - this.lo) / this.width;
  }

  /** The censored mass of one group's runs on the grid, after the self-consistency passes. */
  private *groupMass(rows: readonly PoolRow[], passes: number): Steps<Float64Array> {
    const binOf = (f: number) => Math.min(BINS - 1, Math.max(0, Math.floor(f)));
    const mass = new Float64Array(BINS);
    const exactCount = new Float64Array(BINS);
    for (const row of rows) for (const x of row.exact) exactCount[binOf(this.at(x))] = (exactCount[binOf(this.at(x))] as number) + 1;
    const runs = rows.flatMap((row) => row.runs.map((run) => ({ ...run, calls: row.calls })));
    const spans = runs.map((run) => ({ count: run.count, from: this.at(run.lower), to: this.at(run.upper) }));

    // Start: members placed by interpolation between the run's anchors.
    for (const run of runs) {
      const points = Math.min(run.count, START_POINTS);
      const zLow = normalQuantile((run.lowerPosition + 0.5) / run.calls);
      const zHigh = normalQuantile((run.upperPosition + 0.5) / run.calls);
      for (let k = 0; k < points; k += 1) {
        const position = run.lowerPosition + ((k + 0.5) / points) * (run.upperPosition - run.lowerPosition);
        const share = zHigh > zLow ? (normalQuantile((position + 0.5) / run.calls) - zLow) / (zHigh - zLow) : 0.5;
        const b = binOf(this.at(run.lower) + share * (this.at(run.upper) - this.at(run.lower)));
        mass[b] = (mass[b] as number) + run.count / points;
      }
      yield;
    }

    yield;
    // Self-consistency passes: each run's members go where the group's distribution has executions.
    const weight = new Float64Array(BINS);
    const prefix = new Float64Array(BINS + 1);
    const perBin = new Float64Array(BINS + 1);
    const uniform = new Float64Array(BINS + 1);
    const next = new Float64Array(BINS);
    for (let pass = 0; pass < passes; pass += 1) {
      for (let b = 0; b < BINS; b += 1) {
        weight[b] = (exactCount[b] as number) + (mass[b] as number);
        prefix[b + 1] = (prefix[b] as number) + (weight[b] as number);
      }
      perBin.fill(0);
      uniform.fill(0);
      next.fill(0);
      for (const span of spans) {
        const first = binOf(span.from);
        const last = binOf(span.to);
        const firstShare = first === last ? span.to - span.from : first + 1 - span.from;
        const lastShare = first === last ? 0 : span.to - last;
        const inside = last > first + 1 ? (prefix[last] as number) - (prefix[first + 1] as number) : 0;
        const available = (weight[first] as number) * firstShare + inside + (weight[last] as number) * lastShare;
        if (available > 1e-12) {
          const ratio = span.count / available;
          next[first] = (next[first] as number) + ratio * (weight[first] as number) * firstShare;
          if (first !== last) next[last] = (next[last] as number) + ratio * (weight[last] as number) * lastShare;
          if (last > first + 1) {
            perBin[first + 1] = (perBin[first + 1] as number) + ratio;
            perBin[last] = (perBin[last] as number) - ratio;
          }
        } else {
          // Nothing known inside the interval: spread the members evenly over it.
          const density = span.count / Math.max(1e-12, span.to - span.from);
          next[first] = (next[first] as number) + density * firstShare;
          if (first !== last) next[last] = (next[last] as number) + density * lastShare;
          if (last > first + 1) {
            uniform[first + 1] = (uniform[first + 1] as number) + density;
            uniform[last] = (uniform[last] as number) - density;
          }
        }
      }
      let ratio = 0;
      let density = 0;
      for (let b = 0; b < BINS; b += 1) {
        ratio += perBin[b] as number;
        density += uniform[b] as number;
        mass[b] = (next[b] as number) + ratio * (weight[b] as number) + density;
      }
      yield;
    }

    // Tilted passes: a row's sum says how much of its runs sits high (a few slow calls weigh a lot), which the
    // intervals alone cannot tell. Each row's members are spread as the group's distribution tilted by
    // exp(λ·x), with λ chosen so that they add up to the row's sum less its exact executions.
    const centers = Float64Array.from({ length: BINS }, (_, b) => this.valueAt(b + 0.5));
    // Each row's λ starts from its value in the previous pass (it changes little from pass to pass).
    const lambdas = new Float64Array(rows.length);
    for (let pass = 0; pass < TILTED_PASSES; pass += 1) {
      for (let b = 0; b < BINS; b += 1) weight[b] = (exactCount[b] as number) + (mass[b] as number);
      next.fill(0);
      for (let r = 0; r < rows.length; r += 1) {
        const row = rows[r] as PoolRow;
        const cells = row.runs.map((run) => this.runCells(run, weight, centers));
        const scale = Math.max(...cells.map((cell) => cell.extent));
        const lambda = row.runSum === undefined ? 0 : tiltFor(cells, row.runSum, lambdas[r] as number, scale);
        lambdas[r] = lambda;
        for (const cell of cells) {
          const shares = cell.tilted(lambda, scale);
          for (let k = 0; k < shares.length; k += 1) next[cell.first + k] = (next[cell.first + k] as number) + (shares[k] as number);
        }
        yield;
      }
      mass.set(next);
    }
    return mass;
  }

  /** The grid cells a run covers, with the weight each offers its members (uniform where the group has none). */
  private runCells(run: CensoredRun, weight: Float64Array, centers: Float64Array): RunCells {
    const from = this.at(run.lower);
    const to = this.at(run.upper);
    const first = Math.min(BINS - 1, Math.max(0, Math.floor(from)));
    const last = Math.min(BINS - 1, Math.max(first, Math.floor(to)));
    const w = new Float64Array(last - first + 1);
    const x = centers.subarray(first, last + 1);
    let total = 0;
    for (let b = first; b <= last; b += 1) {
      const share = Math.max(0, Math.min(b + 1, to) - Math.max(b, from)) || (first === last ? 1 : 0);
      w[b - first] = (weight[b] as number) * share;
      total += w[b - first] as number;
    }
    // Nothing known inside the interval: members spread evenly over it.
    if (total <= 1e-12) for (let b = first; b <= last; b += 1) w[b - first] = Math.max(0, Math.min(b + 1, to) - Math.max(b, from)) || 1;
    return new RunCells(run.count, first, w, x);
  }

  /** The value at grid coordinate f (in cells). */
  private valueAt(f: number): number {
    return this.log ? Math.exp(this.lo + f * this.width) : this.lo + f * this.width;
  }

  /** Executions at or below x (exact ones counted whole, censored mass spread evenly within its grid cell). */
  private countAtOrBelow(x: number): number {
    let lo = 0;
    let hi = this.exact.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if ((this.exact[mid] as number) <= x) lo = mid + 1;
      else hi = mid;
    }
    if (this.total === this.exact.length) return lo;
    const f = ((this.log ? Math.log(Math.max(x, Number.MIN_VALUE)) : x) - this.lo) / this.width;
    if (f <= 0) return lo;
    if (f >= BINS) return lo + (this.massBelow[BINS] as number);
    const b = Math.floor(f);
    return lo + (this.massBelow[b] as number) + (this.mass[b] as number) * (f - b);
  }

  /** The j-th smallest execution (0-based): the smallest x with at least j + ½ executions at or below it. */
  private orderStatistic(j: number): number {
    const target = j + 0.5;
    const value = (f: number) => (this.log ? Math.exp(this.lo + f * this.width) : this.lo + f * this.width);
    let lo = 0;
    let hi = BINS;
    if (this.countAtOrBelow(value(lo)) >= target) return value(lo);
    for (let i = 0; i < 60; i += 1) {
      const mid = (lo + hi) / 2;
      if (this.countAtOrBelow(value(mid)) >= target) hi = mid;
      else lo = mid;
    }
    const x = value(hi);
    // An exact execution reached by bisection is returned as published, not as its nearest grid value.
    const index = this.nearestExact(x);
    return index !== undefined && Math.abs((this.exact[index] as number) - x) <= 1e-9 * Math.max(1, Math.abs(x)) ? (this.exact[index] as number) : x;
  }

  private nearestExact(x: number): number | undefined {
    if (this.exact.length === 0) return undefined;
    let lo = 0;
    let hi = this.exact.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if ((this.exact[mid] as number) < x) lo = mid + 1;
      else hi = mid;
    }
    const before = lo > 0 ? lo - 1 : lo;
    return Math.abs((this.exact[before] as number) - x) < Math.abs((this.exact[lo] as number) - x) ? before : lo;
  }

  /** PERCENTILE_CONT(q) over all executions: between the order statistics around position q·(N−1). */
  quantile(q: number): number | null {
    if (this.total === 0) return null;
    const position = q * (this.total - 1);
    const lower = Math.floor(position);
    const low = this.orderStatistic(lower);
    if (position === lower) return low;
    return low + (this.orderStatistic(lower + 1) - low) * (position - lower);
  }
}
