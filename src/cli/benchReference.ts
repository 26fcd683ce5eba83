/**
 * The reference CNN's row of `piggyback bench` (batch 64, 28x28x1): mask training, inference and
 * full fine-tuning on the chosen backend, mask training on wasm for comparison, and tensors
 * leaked per step. bench/reference-row.ts runs it in a fresh child process, as every other row:
 * measured in the bench's own process after the overlap analytics (10 ResNet-50-sized masks) it
 * read 934 img/s in one run where fresh processes read 1,080-1,214 in the same minutes.
 */
import { initBackend, type BackendPreference } from '../core/backend';
import { Backbone } from '../core/model/backbone';
import { buildReferenceCnn } from '../core/model/referenceCnn';
import { FinetuneNet } from '../core/train/taskNets';
import { forwardFlops, maskNet, timeEval, timeTrain } from './benchMatrix';

export const REFERENCE_BATCH = 64;

export interface ReferenceMeasure {
  backend: string;
  backendName: string;
  fallbackReason: string | null;
  steps: number;
  maskImgPerSec: number;
  evalImgPerSec: number;
  finetuneImgPerSec: number;
  wasmMaskImgPerSec: number | null;
  tensorsLeakedPerStep: number;
  maskedWeights: number;
  forwardFlopsPerImage: number;
  peakRssMb: number;
}

export async function measureReference(opts: { quick: boolean; backend: BackendPreference; log: (s: string) => void }): Promise<ReferenceMeasure> {
  const info = await initBackend(opts.backend);
  const steps = opts.quick ? 5 : 30;
  const warmup = opts.quick ? 1 : 3;
  const backbone = Backbone.fromModel(buildReferenceCnn(1), 'bench', '(in memory)');
  const flops = forwardFlops(backbone);
  const maskedWeights = backbone.maskedParams;

  const mask = maskNet(backbone, 'bench');
  const maskRun = timeTrain(mask, 28, 1, REFERENCE_BATCH, steps, warmup);
  opts.log(`mask training: ${maskRun.imgPerSec.toFixed(1)} img/s`);
  const evalImgPerSec = timeEval(mask, 28, 1, REFERENCE_BATCH, opts.quick ? 4 : 20);
  opts.log(`inference: ${evalImgPerSec.toFixed(1)} img/s`);
  mask.dispose();

  const ft = new FinetuneNet(backbone, 10, 1, 'bench-ft');
  const ftRun = timeTrain(ft, 28, 1, REFERENCE_BATCH, steps, warmup);
  opts.log(`full fine-tuning: ${ftRun.imgPerSec.toFixed(1)} img/s`);
  ft.dispose();
  backbone.dispose();

  // The portable path, measured in the same run for comparison (fewer steps: it is slower).
  let wasmMaskImgPerSec: number | null = null;
  if (info.name !== 'wasm') {
    try {
      await initBackend('wasm');
      const bb = Backbone.fromModel(buildReferenceCnn(1), 'bench', '(in memory)');
      const m = maskNet(bb, 'bench-wasm');
      wasmMaskImgPerSec = timeTrain(m, 28, 1, REFERENCE_BATCH, Math.max(2, Math.round(steps / 3)), 1).imgPerSec;
      opts.log(`mask training on wasm (portable path): ${wasmMaskImgPerSec.toFixed(1)} img/s`);
      m.dispose();
      bb.dispose();
    } catch (e) {
      opts.log(`wasm comparison skipped: ${e instanceof Error ? e.message : String(e)}`);
    }
  }
  return {
    backend: info.detail,
    backendName: info.name,
    fallbackReason: info.fallbackReason ?? null,
    steps,
    maskImgPerSec: maskRun.imgPerSec,
    evalImgPerSec,
    finetuneImgPerSec: ftRun.imgPerSec,
    wasmMaskImgPerSec,
    tensorsLeakedPerStep: Math.max(maskRun.leak, ftRun.leak),
    maskedWeights,
    forwardFlopsPerImage: flops,
    peakRssMb: process.resourceUsage().maxRSS / 1024,
  };
}
