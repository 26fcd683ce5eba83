import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'fs';
import * as path from 'path';
import { classifyDatasetSpec, listBuiltinDatasets, loadDataset } from '../../src/core/data/index';
import { pngBytes, rmDir, tmpDir, writeIdxFolder, rejectsWith } from '../fixtures/data/gen';

const input = { height: 4, width: 4, channels: 1 };

test('loadDataset auto-detects IDX folders and image folders (absolute and relative paths)', async () => {
  const root = tmpDir('index');
  try {
    const idx = path.join(root, 'my-idx');
    fs.mkdirSync(idx);
    writeIdxFolder(idx, { n: 8, m: 4, h: 3, w: 3, k: 2, gz: true });
    const a = await loadDataset(idx, input);
    assert.equal(a.train.name, 'my-idx');
    assert.equal(a.train.count, 8);
    assert.equal(classifyDatasetSpec(idx)?.kind, 'idx');

    const img = path.join(root, 'pics');
    for (const c of ['x', 'y']) {
      for (let i = 0; i < 5; i++) {
        fs.mkdirSync(path.join(img, c), { recursive: true });
        fs.writeFileSync(path.join(img, c, `${i}.png`), pngBytes(5, 5, [10, 20, 30, 255], 2));
      }
    }
    const b = await loadDataset('pics', input, { cwd: root, trainPerClass: 2 });
    assert.equal(b.train.name, 'pics');
    assert.deepEqual(b.train.classNames, ['x', 'y']);
    assert.equal(b.train.count, 4);
    assert.equal(b.test.count, 2);
    assert.equal(classifyDatasetSpec('pics', root)?.kind, 'imageFolder');
  } finally {
    rmDir(root);
  }
});

test('loadDataset errors: unknown spec lists ids; existing non-dataset path; bad options', async () => {
  const root = tmpDir('index-bad');
  try {
    await rejectsWith(loadDataset('no-such-thing-42', input, { cwd: root }), 'UNKNOWN_DATASET', /unknown dataset "no-such-thing-42"/, /fashion-mnist.*mnist.*quickdraw-a.*quickdraw-b.*quickdraw-base.*sklearn-digits/);
    fs.writeFileSync(path.join(root, 'file.txt'), 'x');
    await rejectsWith(loadDataset(path.join(root, 'file.txt'), input), 'BAD_DATASET', /file\.txt is not a dataset: found a file, not a folder$/);
    // Say what was found there (issue #9.5), in one short line.
    await rejectsWith(loadDataset(root, input), 'BAD_DATASET', /is not a dataset: found 1 file and no class subfolders$/);
    fs.mkdirSync(path.join(root, 'cats'));
    fs.mkdirSync(path.join(root, 'notes'));
    fs.writeFileSync(path.join(root, 'a.png'), 'x');
    fs.writeFileSync(path.join(root, 'notes', 'n.txt'), 'x');
    await rejectsWith(loadDataset(root, input), 'BAD_DATASET', /is not a dataset: found 2 files \(1 PNG\/JPEG\) and 2 subfolders, none with PNG\/JPEG images$/);
    await rejectsWith(loadDataset('', input), 'UNKNOWN_DATASET', /no dataset given/);
    await rejectsWith(loadDataset('mnist', { height: 0, width: 4, channels: 1 }), 'BAD_ARGUMENT', /invalid input size/);
    await rejectsWith(loadDataset('mnist', { height: 4, width: 4, channels: 2 }), 'BAD_ARGUMENT', /channel/);
    await rejectsWith(loadDataset('mnist', input, { valFraction: 1 }), 'BAD_ARGUMENT', /valFraction/);
    await rejectsWith(loadDataset('mnist', input, { trainPerClass: 2.5 }), 'BAD_ARGUMENT', /trainPerClass/);
  } finally {
    rmDir(root);
  }
});

test('loadDataset resolves builtin ids case-insensitively', async (t) => {
  const sk = listBuiltinDatasets().find((d) => d.id === 'sklearn-digits');
  if (!sk?.available) return t.skip('python3-sklearn not installed');
  const s = await loadDataset(' Sklearn-Digits ', input, { trainPerClass: 2, testLimit: 10, valFraction: 0.5 });
  assert.equal(s.train.name, 'sklearn-digits');
  assert.equal(s.train.count, 10);
  assert.equal(s.val?.count, 10);
  assert.equal(s.test.count, 10);
});
