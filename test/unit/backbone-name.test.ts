/** The tree names a MobileNetV2 project's backbone "MobileNetV2 (nsfwjs)", not "backbone" (issue #9.8). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { backboneName } from '../../src/extension/backboneName';
import { extractNsfwjsMobilenet } from '../../src/core/model/nsfwjsMobilenet';

test('alias, extracted MobileNetV2, or the folder name', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pb-bbname-'));
  try {
    const modelPath = extractNsfwjsMobilenet(path.join(dir, 'backbone'));
    assert.equal(path.basename(path.dirname(modelPath)), 'backbone');
    assert.equal(backboneName({ alias: null, modelPath }), 'MobileNetV2 (nsfwjs)');
    assert.equal(backboneName({ alias: 'reference-cnn', modelPath: '/x/models/reference-cnn/model.json' }), 'reference-cnn');
    fs.mkdirSync(path.join(dir, 'my-resnet'));
    fs.writeFileSync(path.join(dir, 'my-resnet', 'model.json'), '{"format":"layers-model","generatedBy":"keras v2.15"}');
    assert.equal(backboneName({ alias: null, modelPath: path.join(dir, 'my-resnet', 'model.json') }), 'my-resnet');
    assert.equal(backboneName({ alias: null, modelPath: path.join(dir, 'gone', 'model.json'), missing: true }), 'gone');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
