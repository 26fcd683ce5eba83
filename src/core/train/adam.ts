/**
 * The engine's Adam: tfjs' AdamOptimizer whose per-variable update runs as one fused kernel
 * (FUSED_ADAM_KERNEL) where the backend registers it (the 'native' backend), instead of the ~12
 * element-wise kernels tfjs issues per variable and step. The kernel performs the same float32
 * operations in the same order, so the moments and weights are bit-identical to tfjs' Adam; the
 * saved state (getWeights/setWeights), learning-rate changes and every other backend are tfjs'.
 */
import { tf } from '../tf';

/** Inputs x, g, m, v (value, gradient, moments), c1 = 1 - beta1^t, c2 = 1 - beta2^t (scalars);
 *  attrs.params = [beta1, 1 - beta1, beta2, 1 - beta2, epsilon, -learningRate];
 *  outputs: new x, new m, new v. */
export const FUSED_ADAM_KERNEL = 'PiggybackAdam';

type Moment = { originalName: string; variable: tf.Variable };
interface AdamState {
  accBeta1: tf.Variable;
  accBeta2: tf.Variable;
  accumulatedFirstMoment: Array<Moment | undefined>;
  accumulatedSecondMoment: Array<Moment | undefined>;
  beta1: number;
  beta2: number;
  epsilon: number;
  learningRate: number;
}

export class FusedAdamOptimizer extends tf.AdamOptimizer {
  override applyGradients(variableGradients: Parameters<tf.AdamOptimizer['applyGradients']>[0]): void {
    if (!tf.getKernel(FUSED_ADAM_KERNEL, tf.getBackend())) {
      super.applyGradients(variableGradients);
      return;
    }
    const s = this as unknown as AdamState;
    const varNames = Array.isArray(variableGradients) ? variableGradients.map((v) => v.name) : Object.keys(variableGradients);
    tf.tidy(() => {
      const c1 = tf.sub(1, s.accBeta1);
      const c2 = tf.sub(1, s.accBeta2);
      const params = [s.beta1, 1 - s.beta1, s.beta2, 1 - s.beta2, s.epsilon, -s.learningRate];
      varNames.forEach((name, i) => {
        const value = tf.engine().registeredVariables[name];
        // As tfjs: moments by position in this call, created (zeros) on first use.
        if (s.accumulatedFirstMoment[i] == null) {
          s.accumulatedFirstMoment[i] = { originalName: `${name}/m`, variable: tf.tidy(() => tf.zerosLike(value).variable(false)) };
        }
        if (s.accumulatedSecondMoment[i] == null) {
          s.accumulatedSecondMoment[i] = { originalName: `${name}/v`, variable: tf.tidy(() => tf.zerosLike(value).variable(false)) };
        }
        const gradient = Array.isArray(variableGradients) ? variableGradients[i].tensor : variableGradients[name];
        if (gradient == null) return;
        const m = (s.accumulatedFirstMoment[i] as Moment).variable;
        const v = (s.accumulatedSecondMoment[i] as Moment).variable;
        if (value.dtype !== 'float32' || gradient.dtype !== 'float32' || !tf.util.arraysEqual(value.shape, gradient.shape)) {
          // tfjs' own update (what AdamOptimizer does), for anything the kernel does not take.
          const nm = tf.add(tf.mul(m, s.beta1), tf.mul(gradient, 1 - s.beta1));
          const nv = tf.add(tf.mul(v, s.beta2), tf.mul(tf.square(gradient), 1 - s.beta2));
          m.assign(nm);
          v.assign(nv);
          value.assign(tf.add(tf.mul(tf.div(tf.div(nm, c1), tf.add(tf.sqrt(tf.div(nv, c2)), s.epsilon)), -s.learningRate), value));
          return;
        }
        const [nx, nm, nv] = tf.engine().runKernel(FUSED_ADAM_KERNEL, { x: value, g: gradient, m, v, c1, c2 }, { params }) as tf.Tensor[];
        m.assign(nm);
        v.assign(nv);
        value.assign(nx);
      });
      s.accBeta1.assign(tf.mul(s.accBeta1, s.beta1));
      s.accBeta2.assign(tf.mul(s.accBeta2, s.beta2));
    });
    this.incrementIterations();
  }
}

/** Adam with tfjs' defaults (beta1 0.9, beta2 0.999, the backend's epsilon), as tf.train.adam. */
export function adam(learningRate: number): tf.AdamOptimizer {
  return new FusedAdamOptimizer(learningRate, 0.9, 0.999);
}
