/**
 * The accuracy matrix of continual learning and its forgetting / backward transfer (BWT), in
 * Avalanche's convention: acc[i][k] is task i's test accuracy after task k was added (tasks in
 * training order; null before task i existed or when unknown). Pure arithmetic, no TF.js.
 *
 * - forgetting of task i (i < last): the best accuracy it had after any earlier step k in
 *   [i, last - 1], minus its accuracy after the last step;
 * - BWT: the mean over tasks i < last of acc[i][last] - acc[i][i].
 * Positive forgetting (negative BWT) means later tasks hurt earlier ones.
 */

export interface ForgettingSummary {
  /** Per task (training order): forgetting, or null for the last task or when unknown. */
  forgetting: Array<number | null>;
  /** Mean backward transfer over the tasks with both numbers known, or null if none. */
  bwt: number | null;
  /** Mean forgetting over the tasks with a known forgetting, or null if none. */
  meanForgetting: number | null;
}

export function forgettingFromMatrix(acc: Array<Array<number | null>>): ForgettingSummary {
  const T = acc.length;
  const last = T - 1;
  const forgetting = acc.map((row, i) => {
    if (i >= last) return null;
    const final = row[last];
    if (final === null || final === undefined) return null;
    let best: number | null = null;
    for (let k = i; k < last; k++) {
      const v = row[k];
      if (v !== null && v !== undefined && (best === null || v > best)) best = v;
    }
    return best === null ? null : best - final;
  });
  const bwtTerms: number[] = [];
  for (let i = 0; i < last; i++) {
    const a = acc[i][last];
    const d = acc[i][i];
    if (a !== null && a !== undefined && d !== null && d !== undefined) bwtTerms.push(a - d);
  }
  const known = forgetting.filter((f): f is number => f !== null);
  const mean = (xs: number[]) => (xs.length ? xs.reduce((s, x) => s + x, 0) / xs.length : null);
  return { forgetting, bwt: mean(bwtTerms), meanForgetting: mean(known) };
}
