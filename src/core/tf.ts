/**
 * The one place the engine imports TensorFlow.js from:
 *   import { tf } from './tf';
 * It is the full '@tensorflow/tfjs' package (not only tfjs-core), so every op's gradient is
 * registered. Backend selection lives in ./backend (initBackend).
 */
export * as tf from '@tensorflow/tfjs';
