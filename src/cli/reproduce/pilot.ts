/** Progress/ETA keys (and scratch task suffixes) of the head-rate pilot runs: short Piggyback runs. */
const PILOT_PREFIX = 'pilot-head-';

export const pilotMethod = (lrHead: number): string => `${PILOT_PREFIX}${lrHead}`;

export const isPilotMethod = (method: string): boolean => method.startsWith(PILOT_PREFIX);
