/**
 * Mask dynamics from a task's stored history: bits flipped per masked layer per epoch, and
 * when each layer settled (the first epoch after which fewer than 1% of its bits flip in
 * every later epoch). No TF.js.
 */
import type { EpochMetrics, MaskedLayerInfo } from '../types';

export interface LayerDynamics {
  name: string;
  size: number;
  /** Bits flipped in each epoch (epoch 1: since the all-ones start). */
  flips: number[];
  /** Fraction of the layer's entries flipped in each epoch. */
  flipFraction: number[];
  /** First epoch after which every later epoch flips fewer than `settleFraction` of the layer; null if never. */
  settledAfterEpoch: number | null;
}

export interface MaskDynamics {
  epochs: number[];
  layers: LayerDynamics[];
  /** False when the history predates per-layer counts (only totals are known). */
  perLayer: boolean;
}

export const SETTLE_FRACTION = 0.01;

export function maskDynamics(history: EpochMetrics[], layers: MaskedLayerInfo[], settleFraction = SETTLE_FRACTION): MaskDynamics {
  const perLayer = history.length > 0 && history.every((h) => Array.isArray(h.layerBitsFlipped) && h.layerBitsFlipped.length === layers.length);
  const out = layers.map((l, li) => {
    const flips = perLayer ? history.map((h) => h.layerBitsFlipped![li]) : [];
    const flipFraction = flips.map((f) => (l.size ? f / l.size : 0));
    let settled: number | null = null;
    // Walk back from the end: the settled epoch is the last one whose successors are all quiet.
    for (let e = flips.length; e >= 1; e--) {
      const later = flipFraction.slice(e);
      if (later.every((f) => f < settleFraction)) settled = e;
      else break;
    }
    if (settled !== null && settled === flips.length && flips.length > 0 && flipFraction[flips.length - 1] >= settleFraction) {
      settled = null; // still moving in the last epoch: not settled yet
    }
    return { name: l.name, size: l.size, flips, flipFraction, settledAfterEpoch: perLayer ? settled : null };
  });
  return { epochs: history.map((h) => h.epoch), layers: out, perLayer };
}
