/** The architectures `piggyback pretrain --arch` builds (names only: no TF.js, for the CLI's help). */
export const ARCHITECTURES = ['reference', 'vgg6', 'resnet8'] as const;
export type Architecture = (typeof ARCHITECTURES)[number];

export const ARCHITECTURE_DOCS: Record<Architecture, string> = {
  reference: 'reference CNN: 4 conv (32-32-64-64) + BN, max-pools, fc 128',
  vgg6: 'VGG-style: 6 conv 3x3 (32-32 | 64-64 | 96-96) + BN + ReLU, max-pool between stages, global average pooling (96 features)',
  resnet8: 'ResNet-style: 3x3 stem (32) and 3 BasicBlocks (32, 64/2, 96/2) with BN and 1x1 projections, global average pooling (96 features)',
};

export function isArchitecture(s: string): s is Architecture {
  return (ARCHITECTURES as readonly string[]).includes(s);
}
