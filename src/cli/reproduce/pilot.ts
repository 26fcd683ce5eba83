/** The progress/ETA key (and scratch task suffix) of a head-rate pilot run. */
export const pilotMethod = (lrHead: number): string => `pilot-head-${lrHead}`;
