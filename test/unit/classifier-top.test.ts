/**
 * Without --cut-at a user's classifier loses its classification top (a final Dense with
 * softmax / sigmoid / logits, an explicit softmax layer after it, and dropout before it), as
 * the paper and Keras' include_top=False do; a Dense feature layer (relu) stays. The cut is
 * stored as an explicit layer name, so cutAt null in old manifests keeps meaning the whole model.
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { tf, useWasm, tmpDir, quadrantDataset, writeIdxDataset } from '../helpers/engineFixtures';
import { buildKerasStyleClassifier } from '../helpers/kerasStyle';
import { buildReferenceCnn } from '../../src/core/model/referenceCnn';
import { findClassifierTop, readModelTopology, saveLayersModelFile } from '../../src/core/model/modelIO';
import { defaultBackbonePath } from '../../src/core/paths';
import * as engine from '../../src/core/engine';

before(useWasm);

const topOf = (m: tf.LayersModel) => findClassifierTop(m.toJSON(null, false) as object);

function sequential(...layers: tf.layers.Layer[]): tf.LayersModel {
  return tf.sequential({ layers: [tf.layers.conv2d({ inputShape: [8, 8, 1], filters: 4, kernelSize: 3, name: 'conv' }), ...layers] });
}

function functional(build: (h: tf.SymbolicTensor) => tf.SymbolicTensor): tf.LayersModel {
  const x = tf.input({ shape: [8, 8, 1], name: 'in' });
  const h = tf.layers.conv2d({ filters: 4, kernelSize: 3, name: 'conv' }).apply(x) as tf.SymbolicTensor;
  return tf.model({ inputs: x, outputs: build(h) });
}
const ap = (l: tf.layers.Layer, h: tf.SymbolicTensor) => l.apply(h) as tf.SymbolicTensor;

test('a softmax Dense top is cut, with the dropout before it (Keras GAP -> Dropout -> Dense)', () => {
  assert.deepEqual(topOf(buildKerasStyleClassifier()), { cutAt: 'avg_pool', classifier: 'predictions', dropped: ['top_dropout', 'predictions'] });
  const seq = sequential(
    tf.layers.globalAveragePooling2d({ name: 'gap' }), tf.layers.dropout({ rate: 0.5, name: 'drop1' }), tf.layers.dropout({ rate: 0.5, name: 'drop2' }),
    tf.layers.dense({ units: 3, activation: 'softmax', name: 'fc' }),
  );
  assert.deepEqual(topOf(seq), { cutAt: 'gap', classifier: 'fc', dropped: ['drop1', 'drop2', 'fc'] });
  assert.deepEqual(topOf(sequential(tf.layers.flatten({ name: 'flat' }), tf.layers.dense({ units: 3, activation: 'softmax', name: 'fc' }))), { cutAt: 'flat', classifier: 'fc', dropped: ['fc'] });
});

test('sigmoid and logit (linear) Dense tops are cut; so is Dense followed by a Softmax or Activation layer', () => {
  for (const activation of ['sigmoid', 'linear'] as const) {
    const m = sequential(tf.layers.flatten({ name: 'flat' }), tf.layers.dense({ units: 3, activation, name: 'fc' }));
    assert.equal(topOf(m)?.cutAt, 'flat', activation);
  }
  const withSoftmax = functional((h) => ap(tf.layers.softmax({ name: 'probs' }), ap(tf.layers.dense({ units: 3, name: 'logits' }), ap(tf.layers.flatten({ name: 'flat' }), h))));
  assert.deepEqual(topOf(withSoftmax), { cutAt: 'flat', classifier: 'logits', dropped: ['logits', 'probs'] });
  const withActivation = sequential(
    tf.layers.globalAveragePooling2d({ name: 'gap' }), tf.layers.dropout({ rate: 0.2, name: 'drop' }), tf.layers.dense({ units: 3, name: 'logits' }), tf.layers.activation({ activation: 'softmax', name: 'act' }),
  );
  assert.deepEqual(topOf(withActivation), { cutAt: 'gap', classifier: 'logits', dropped: ['drop', 'logits', 'act'] });
});

test('a relu (or other feature) Dense output stays, as does a softmax on something other than a Dense', () => {
  assert.equal(topOf(buildReferenceCnn(1)), null);
  assert.equal(findClassifierTop(readModelTopology(defaultBackbonePath())), null, 'the embedded reference CNN ends at fc1 (relu)');
  assert.equal(topOf(sequential(tf.layers.flatten({}), tf.layers.dense({ units: 8, activation: 'tanh' }))), null);
  assert.equal(topOf(functional((h) => ap(tf.layers.softmax({}), ap(tf.layers.globalAveragePooling2d({}), h)))), null);
  assert.equal(topOf(sequential(tf.layers.globalAveragePooling2d({}))), null);
  // A Dense straight on the input: nothing would be left to mask.
  const x = tf.input({ shape: [4] });
  assert.equal(findClassifierTop(tf.model({ inputs: x, outputs: ap(tf.layers.dense({ units: 2, activation: 'softmax' }), x) }).toJSON(null, false) as object), null);
});

test('init over a classifier: cut before the top by name; --keep-top and --cut-at are honoured; old null cuts load the whole model', async () => {
  const model = buildKerasStyleClassifier(3);
  const modelPath = await saveLayersModelFile(model, tmpDir('pb-keras-'));
  model.dispose();
  const proj = () => path.join(tmpDir('pb-top-'), 'p');

  const dir = proj();
  const cut = await engine.createProject({ projectDir: dir, modelPath });
  assert.deepEqual(cut.classifierTop, { cutAt: 'avg_pool', classifier: 'predictions', dropped: ['top_dropout', 'predictions'] });
  assert.equal(cut.backbone.cutAt, 'avg_pool');
  assert.equal(JSON.parse(fs.readFileSync(path.join(dir, 'piggyback.json'), 'utf8')).backbone.cutAt, 'avg_pool', 'the manifest stores the cut by name');
  assert.deepEqual(cut.layers.map((l) => l.name), ['stem', 'down1', 'res_a', 'res_b', 'down2']);

  const explicit = await engine.createProject({ projectDir: proj(), modelPath, cutAt: 'res_out' });
  assert.equal(explicit.backbone.cutAt, 'res_out');
  assert.equal(explicit.classifierTop, null);

  await assert.rejects(engine.createProject({ projectDir: proj(), modelPath, cutAt: 'avg_pool', keepTop: true }), (e: any) => e.code === 'BAD_ARGUMENT' && /keep-top/.test(e.oneLine()));

  const whole = proj();
  const kept = await engine.createProject({ projectDir: whole, modelPath, keepTop: true });
  assert.equal(kept.backbone.cutAt, null);
  assert.equal(kept.classifierTop, null);
  assert.equal(kept.layers.at(-1)?.name, 'predictions');
  // A manifest with cutAt null (every project made before the automatic cut) still opens as the whole model.
  const data = writeIdxDataset(quadrantDataset(48, 2), 32);
  const t = await engine.trainTask({ projectDir: whole, task: 't', dataset: data, options: { epochs: 1, batchSize: 16 } });
  assert.equal(t.layerSparsity.length, 6);

  const ref = await engine.createProject({ projectDir: proj(), modelPath: 'reference-cnn' });
  assert.equal(ref.backbone.cutAt, null);
  assert.equal(ref.classifierTop, null);
});
