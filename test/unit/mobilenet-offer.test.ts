/** Create Mask Project offers MobileNetV2 where it can be extracted: from a build's dist/models (a .vsix) or node_modules (issue #9.8). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { mobilenetAvailable } from '../../src/core/model/nsfwjsMobilenet';

const root = path.resolve(__dirname, '../..');

test('MobileNetV2 is available in a checkout, and a build ships it in dist/ where the vsix takes it from', () => {
  assert.equal(mobilenetAvailable(), true);
  const ignore = fs.readFileSync(path.join(root, '.vscodeignore'), 'utf8');
  assert.match(ignore, /^!dist\/models\/\*\*$/m, 'the .vsix keeps dist/models');
  assert.match(fs.readFileSync(path.join(root, 'scripts', 'build.mjs'), 'utf8'), /dist, 'models', 'nsfwjs-mobilenet_v2'/);
});
