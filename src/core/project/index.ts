/** Mask project storage and analytics (no TF.js): one import for the engine, CLI and extension host. */
export * from './store';
export { readManifest, storedModelPath, resolveModelPath, MANIFEST_FILE } from './manifest';
export { packBinary, unpackBinary, packTernary, unpackTernary, wordCount, type PackedBits, type PackedTernary } from './bitpack';
export { computeOverlap, maskSparsity, popcount32, type OverlapResult } from './analytics';
export { writeFileAtomic, writeJsonAtomic } from './atomic';
