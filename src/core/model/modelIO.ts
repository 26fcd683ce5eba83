/**
 * Reading and writing TF.js LayersModels on disk without tfjs-node (whose file:// handler
 * is the only built-in one in Node): model.json + its weight shards, validated with
 * errors that name the file. Also the backbone checksum: sha256 over the weight bytes.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { createHash } from 'node:crypto';
import { tf } from '../tf';
import { PiggybackError } from '../errors';
import { writeFileAtomic } from '../project/atomic';

export interface LoadedModel {
  model: tf.LayersModel;
  /** sha256 (hex) of the concatenated weight data as stored. */
  sha256: string;
  modelPath: string;
}

interface WeightsGroup {
  paths: string[];
  weights: tf.io.WeightsManifestEntry[];
}

function readModelJson(modelPath: string): { topology: object; manifest: WeightsGroup[] } {
  if (!fs.existsSync(modelPath)) {
    throw new PiggybackError('FILE_NOT_FOUND', `model file not found: ${modelPath}`, 'pass the path of a TF.js LayersModel model.json');
  }
  let json: any;
  try {
    json = JSON.parse(fs.readFileSync(modelPath, 'utf8'));
  } catch (e) {
    throw new PiggybackError('BAD_MODEL', `${modelPath} is not valid JSON: ${(e as Error).message}`, 'expected a TF.js LayersModel model.json');
  }
  const topology = json?.modelTopology;
  const manifest = json?.weightsManifest;
  if (!topology || typeof topology !== 'object' || !Array.isArray(manifest)) {
    throw new PiggybackError(
      'BAD_MODEL',
      `${modelPath} is not a TF.js LayersModel (needs "modelTopology" and "weightsManifest")`,
      json?.format === 'graph-model' ? 'graph models cannot be masked; export a Keras/LayersModel instead' : 'export the model with tfjs.converters.save_keras_model or model.save()',
    );
  }
  return { topology, manifest };
}

/** Weight specs in manifest order and the bytes of all shards, size-checked. */
function readWeights(modelPath: string, manifest: WeightsGroup[]): { specs: tf.io.WeightsManifestEntry[]; data: Buffer } {
  const dir = path.dirname(modelPath);
  const specs: tf.io.WeightsManifestEntry[] = [];
  const buffers: Buffer[] = [];
  for (const group of manifest) {
    if (!Array.isArray(group?.paths) || !Array.isArray(group?.weights)) {
      throw new PiggybackError('BAD_MODEL', `${modelPath}: a weightsManifest entry lacks "paths" or "weights"`);
    }
    const groupBuffers = group.paths.map((p) => {
      const file = path.join(dir, p);
      if (!fs.existsSync(file)) {
        throw new PiggybackError('FILE_NOT_FOUND', `weight file missing: ${file} (listed in ${modelPath})`, 'copy every weight shard next to model.json');
      }
      return fs.readFileSync(file);
    });
    const groupData = Buffer.concat(groupBuffers);
    let expected = 0;
    for (const w of group.weights) expected += weightByteLength(w);
    if (groupData.length !== expected) {
      throw new PiggybackError(
        'BAD_MODEL',
        `weight data of ${modelPath} has ${groupData.length} bytes but its manifest describes ${expected}`,
        'the weight files are truncated or do not belong to this model.json',
      );
    }
    specs.push(...group.weights);
    buffers.push(groupData);
  }
  return { specs, data: Buffer.concat(buffers) };
}

function weightByteLength(w: tf.io.WeightsManifestEntry): number {
  const n = w.shape.reduce((a, b) => a * b, 1);
  if (w.quantization) return n * (w.quantization.dtype === 'float16' || w.quantization.dtype === 'uint16' ? 2 : 1);
  if (w.dtype === 'string') throw new PiggybackError('BAD_MODEL', `string weights are not supported (${w.name})`);
  return n * 4;
}

export function sha256Hex(data: Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

/**
 * Loads a LayersModel from model.json. `inputHW` rebuilds it for another input size
 * (fully convolutional backbones only), e.g. MobileNetV2 at 32x32.
 */
export async function loadLayersModelFile(modelPath: string, opts: { inputHW?: [number, number]; cutAt?: string | null } = {}): Promise<LoadedModel> {
  const abs = path.resolve(modelPath);
  const { topology, manifest } = readModelJson(abs);
  const { specs, data } = readWeights(abs, manifest);
  let topo = opts.inputHW ? withInputSize(topology, opts.inputHW) : topology;
  let weightSpecs = specs;
  let weights: Uint8Array = data;
  if (opts.cutAt) {
    // Build only what the backbone needs: layers above the cut may not even be valid at
    // another input size (e.g. a fixed 7x7 pooling at 32 px).
    const kept = layersUpTo(topo, opts.cutAt);
    topo = withLayers(topo, kept, opts.cutAt);
    ({ specs: weightSpecs, data: weights } = weightsOfLayers(specs, data, kept));
  }
  const weightData = weights.buffer.slice(weights.byteOffset, weights.byteOffset + weights.byteLength) as ArrayBuffer;
  let model: tf.LayersModel;
  try {
    model = await tf.loadLayersModel(tf.io.fromMemory({ modelTopology: topo, weightSpecs, weightData }));
  } catch (e) {
    throw new PiggybackError('BAD_MODEL', `${abs} could not be built as a LayersModel: ${(e as Error).message.split('\n')[0]}`);
  }
  return { model, sha256: sha256Hex(data), modelPath: abs };
}

/** The classification top of a model, as found by findClassifierTop. */
export interface ClassifierTop {
  /** Where the backbone ends: the layer that feeds the top (dropout skipped). */
  cutAt: string;
  /** The final Dense layer: the classifier the paper (and Keras' include_top=False) replaces. */
  classifier: string;
  /** Every layer dropped, in model order: dropout, the Dense, an explicit softmax layer. */
  dropped: string[];
}

/** Reads a model.json's Keras topology (validated like loadLayersModelFile, weights not read). */
export function readModelTopology(modelPath: string): object {
  return readModelJson(path.resolve(modelPath)).topology;
}

const TOP_ACTIVATIONS = new Set(['softmax', 'sigmoid', 'linear']);
/** Layers that are the identity at inference: a top's dropout goes with it. */
const DROPOUT_LAYERS = new Set(['Dropout', 'SpatialDropout1D', 'SpatialDropout2D', 'SpatialDropout3D', 'GaussianDropout', 'AlphaDropout', 'GaussianNoise']);

/**
 * The model's classification top, or null when it has none. The rule: the output is a Dense
 * with softmax, sigmoid or linear (logits) activation, or a Softmax / Activation(softmax or
 * sigmoid) layer directly on a Dense; Dropout-like layers right before that Dense belong to the
 * top too (Keras tops are GAP -> Dropout -> Dense softmax). A Dense with any other activation
 * (e.g. the reference CNN's relu fc1) is a feature layer and stays, as does a Dense fed by the
 * input itself (nothing would be left to mask). Needs a single-output model.
 */
export function findClassifierTop(topology: object): ClassifierTop | null {
  const { config, layers } = layerList(topology);
  if (!layers.length) return null;
  const nameOf = (l: any): string => l.config?.name ?? l.name;
  const byName = new Map<string, any>(layers.map((l) => [nameOf(l), l]));
  const functional = layers.some((l) => Array.isArray(l.inbound_nodes));
  let output: any;
  let inbound: (l: any) => any;
  if (functional) {
    const outs = config.output_layers;
    if (!Array.isArray(outs) || outs.length === 0) return null;
    if (typeof outs[0] === 'string') output = byName.get(outs[0]);
    else if (outs.length === 1 && Array.isArray(outs[0])) output = byName.get(outs[0][0]);
    inbound = (l) => {
      const nodes = l.inbound_nodes;
      if (!Array.isArray(nodes) || nodes.length !== 1 || !Array.isArray(nodes[0]) || nodes[0].length !== 1) return null;
      return byName.get(nodes[0][0][0]) ?? null;
    };
  } else {
    output = layers[layers.length - 1];
    inbound = (l) => layers[layers.indexOf(l) - 1] ?? null;
  }
  if (!output) return null;
  const activation = (l: any): string => String(l.config?.activation ?? 'linear').toLowerCase();
  const dropped: string[] = [];
  let dense = output;
  if (output.class_name === 'Softmax' || (output.class_name === 'Activation' && (activation(output) === 'softmax' || activation(output) === 'sigmoid'))) {
    dropped.push(nameOf(output));
    dense = inbound(output);
    if (!dense || dense.class_name !== 'Dense') return null;
  } else if (output.class_name !== 'Dense' || !TOP_ACTIVATIONS.has(activation(output))) {
    return null;
  }
  dropped.push(nameOf(dense));
  let feeding = inbound(dense);
  while (feeding && DROPOUT_LAYERS.has(feeding.class_name)) {
    dropped.push(nameOf(feeding));
    feeding = inbound(feeding);
  }
  if (!feeding || feeding.class_name === 'InputLayer') return null;
  return { cutAt: nameOf(feeding), classifier: nameOf(dense), dropped: dropped.reverse() };
}

function layerList(topology: any): { config: any; layers: any[] } {
  const config = topology.model_config?.config ?? topology.config;
  return { config, layers: config?.layers ?? [] };
}

/** Names of the layers `cutAt` depends on (itself included), in topology order. */
function layersUpTo(topology: any, cutAt: string): Set<string> {
  const { layers } = layerList(topology);
  const byName = new Map<string, any>(layers.map((l) => [l.config?.name ?? l.name, l]));
  if (!byName.has(cutAt)) {
    throw new PiggybackError('BAD_ARGUMENT', `no layer named "${cutAt}" in the model`, `layers include: ${[...byName.keys()].slice(-8).join(', ')}`);
  }
  const isFunctional = layers.some((l) => Array.isArray(l.inbound_nodes));
  if (!isFunctional) {
    const names = [...byName.keys()];
    return new Set(names.slice(0, names.indexOf(cutAt) + 1));
  }
  const kept = new Set<string>();
  const stack = [cutAt];
  while (stack.length) {
    const name = stack.pop() as string;
    if (kept.has(name)) continue;
    kept.add(name);
    for (const node of byName.get(name)?.inbound_nodes ?? []) for (const inbound of node) stack.push(inbound[0]);
  }
  return kept;
}

function withLayers(topology: any, kept: Set<string>, cutAt: string): object {
  const topo = JSON.parse(JSON.stringify(topology));
  const { config } = layerList(topo);
  config.layers = config.layers.filter((l: any) => kept.has(l.config?.name ?? l.name));
  if (config.output_layers) config.output_layers = [[cutAt, 0, 0]];
  return topo;
}

/** The weight specs (and their bytes) that belong to the kept layers. */
function weightsOfLayers(specs: tf.io.WeightsManifestEntry[], data: Uint8Array, kept: Set<string>): { specs: tf.io.WeightsManifestEntry[]; data: Uint8Array } {
  const outSpecs: tf.io.WeightsManifestEntry[] = [];
  const parts: Uint8Array[] = [];
  let offset = 0;
  for (const spec of specs) {
    const n = weightByteLength(spec);
    const owner = spec.name.slice(0, spec.name.lastIndexOf('/'));
    if (kept.has(owner) || kept.has(owner.split('/').pop() as string)) {
      outSpecs.push(spec);
      parts.push(data.subarray(offset, offset + n));
    }
    offset += n;
  }
  return { specs: outSpecs, data: Buffer.concat(parts) };
}

/** Returns a copy of the Keras topology with every InputLayer set to [null, h, w, c]. */
function withInputSize(topology: any, [h, w]: [number, number]): object {
  const topo = JSON.parse(JSON.stringify(topology));
  for (const l of layerList(topo).layers) {
    if (l.class_name === 'InputLayer') {
      const shape = l.config.batch_input_shape ?? l.config.batchInputShape;
      if (!shape || shape.length !== 4) throw new PiggybackError('BAD_ARGUMENT', 'input size can only be changed for image models (NHWC input)');
      shape[1] = h;
      shape[2] = w;
    } else if (l.config?.batch_input_shape) {
      l.config.batch_input_shape[1] = h;
      l.config.batch_input_shape[2] = w;
    }
  }
  return topo;
}

/** Saves a LayersModel as model.json + weights.bin in `dir`, each written atomically. */
export async function saveLayersModelFile(model: tf.LayersModel, dir: string): Promise<string> {
  fs.mkdirSync(dir, { recursive: true });
  const modelPath = path.join(dir, 'model.json');
  await model.save(
    tf.io.withSaveHandler(async (artifacts) => {
      const data = new Uint8Array(artifacts.weightData as ArrayBuffer);
      writeFileAtomic(path.join(dir, 'weights.bin'), data);
      const json = {
        format: 'layers-model',
        generatedBy: 'piggyback-mask-explorer',
        convertedBy: null,
        modelTopology: artifacts.modelTopology,
        weightsManifest: [{ paths: ['weights.bin'], weights: artifacts.weightSpecs }],
        ...(artifacts.userDefinedMetadata ? { userDefinedMetadata: artifacts.userDefinedMetadata } : {}),
      };
      writeFileAtomic(modelPath, JSON.stringify(json));
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    }),
  );
  return modelPath;
}
