/**
 * A task as a standalone TF.js LayersModel: the backbone's own topology with every masked
 * kernel replaced by W ⊙ m (m in {0,1}, or {-1,0,+1} for ternary masks), the task's
 * BatchNorm parameters when it trained its own, global average pooling when the backbone
 * ends in a feature map (as the engine does), and the head as a final linear Dense. Its
 * output is the task's logits: `tf.loadLayersModel` (or loadLayersModelFile) loads it with
 * no piggyback code, and it predicts what the engine predicts for that task.
 */
import { tf } from '../tf';
import { PiggybackError } from '../errors';
import type { MaskKind } from '../types';
import type { StoredBn } from '../project/taskFiles';
import type { Backbone } from './backbone';

export interface TaskModelParts {
  task: string;
  classNames: string[];
  maskKind: MaskKind;
  /** One per masked layer in manifest order. */
  masks: Array<Uint8Array | Int8Array>;
  head: { kernel: Float32Array; shape: [number, number]; bias: Float32Array };
  /** Per-task BN (bnMode 'trainable'); absent = the backbone's own BN. */
  bn?: StoredBn[];
}

/** What a loaded export's user-defined metadata holds (model.json "userDefinedMetadata"). */
export interface ExportedTaskMetadata {
  piggyback: {
    task: string;
    classNames: string[];
    maskKind: MaskKind;
    output: 'logits';
    backboneSha256: string;
    headLayer: string;
  };
}

function topologyLayers(topology: any): any[] {
  const config = topology?.model_config?.config ?? topology?.config;
  return Array.isArray(config?.layers) ? config.layers : [];
}

function uniqueName(taken: Set<string>, base: string): string {
  let name = base;
  for (let k = 1; taken.has(name); k++) name = `${base}_${k}`;
  taken.add(name);
  return name;
}

/** Builds the standalone model in memory (the caller disposes it). */
export async function buildTaskModel(backbone: Backbone, parts: TaskModelParts): Promise<tf.LayersModel> {
  if (parts.masks.length !== backbone.layers.length) {
    throw new PiggybackError('SHAPE_MISMATCH', `task ${parts.task} has ${parts.masks.length} masks, the backbone ${backbone.layers.length} masked layers`);
  }
  const [hin, hout] = parts.head.shape;
  if (hin !== backbone.featureSize) {
    throw new PiggybackError('SHAPE_MISMATCH', `the head of task ${parts.task} takes ${hin} features, the backbone gives ${backbone.featureSize}`);
  }
  let art: tf.io.ModelArtifacts | undefined;
  await backbone.model.save(tf.io.withSaveHandler(async (a) => {
    art = a;
    return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
  }));
  const topology = JSON.parse(JSON.stringify(art!.modelTopology));
  const named = tf.io.decodeWeights(art!.weightData!, art!.weightSpecs!);
  const replaced: tf.Tensor[] = [];
  const put = (key: string, t: tf.Tensor) => {
    if (named[key]) named[key].dispose();
    named[key] = t;
    replaced.push(t);
  };
  try {
    backbone.layers.forEach((info, i) => {
      const l = backbone.model.getLayer(info.name) as any;
      const v = info.kind === 'depthwise' ? l.depthwiseKernel : l.kernel;
      const key: string = v.originalName;
      if (!named[key]) throw new PiggybackError('BAD_MODEL', `the saved backbone has no weight ${key} for layer ${info.name}`);
      const w = backbone.kernels[i].dataSync() as Float32Array;
      const m = parts.masks[i];
      const baked = new Float32Array(w.length);
      for (let k = 0; k < w.length; k++) baked[k] = m[k] === 0 ? 0 : m[k] === 1 ? w[k] : -w[k];
      put(key, tf.tensor(baked, info.shape));
    });
    if (parts.bn) {
      const layersCfg = topologyLayers(topology);
      for (const b of parts.bn) {
        const l = backbone.model.getLayer(b.layer) as any;
        const cfg = layersCfg.find((c) => (c.config?.name ?? c.name) === b.layer);
        if (!cfg) throw new PiggybackError('BAD_MODEL', `BatchNormalization ${b.layer} is not in the saved topology`);
        // A BN without scale/center gets them: the task trained gamma and beta.
        cfg.config.scale = true;
        cfg.config.center = true;
        const keyOf = (v: any, suffix: string) => (v?.originalName as string | undefined) ?? `${b.layer}/${suffix}`;
        put(keyOf(l.gamma, 'gamma'), tf.tensor1d(b.gamma));
        put(keyOf(l.beta, 'beta'), tf.tensor1d(b.beta));
        put(keyOf(l.movingMean, 'moving_mean'), tf.tensor1d(b.movingMean));
        put(keyOf(l.movingVariance, 'moving_variance'), tf.tensor1d(b.movingVariance));
      }
    }
    const encoded = await tf.io.encodeWeights(named);
    const base = await tf.loadLayersModel(tf.io.fromMemory({ modelTopology: topology, weightSpecs: encoded.specs, weightData: encoded.data }));
    const taken = new Set(base.layers.map((l) => l.name));
    let h = base.outputs[0];
    if (h.rank === 4) h = tf.layers.globalAveragePooling2d({ name: uniqueName(taken, 'piggyback_pool') }).apply(h) as tf.SymbolicTensor;
    const headName = uniqueName(taken, 'piggyback_head');
    const headLayer = tf.layers.dense({ units: hout, activation: 'linear', name: headName });
    const out = headLayer.apply(h) as tf.SymbolicTensor;
    const model = tf.model({ inputs: base.inputs, outputs: out, name: `piggyback_task_${parts.task.replace(/[^A-Za-z0-9_]/g, '_')}` });
    const k = tf.tensor2d(parts.head.kernel, [hin, hout]);
    const bias = tf.tensor1d(parts.head.bias);
    headLayer.setWeights([k, bias]);
    k.dispose();
    bias.dispose();
    const meta: ExportedTaskMetadata = {
      piggyback: { task: parts.task, classNames: [...parts.classNames], maskKind: parts.maskKind, output: 'logits', backboneSha256: backbone.sha256, headLayer: headName },
    };
    model.setUserDefinedMetadata(meta);
    return model;
  } finally {
    for (const t of Object.values(named)) if (!t.isDisposed) t.dispose();
    for (const t of replaced) if (!t.isDisposed) t.dispose();
  }
}
