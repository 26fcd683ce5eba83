/**
 * `piggyback reproduce`: the paper's central comparison on real offline data, one backbone
 * after another (`--arch` picks some). Each backbone's result is saved as
 * <out>/results/<arch>.json as soon as it is done; the report (results.md, results.csv, the
 * sparsity heatmap PNG) is then rendered from every such file present, so architectures run
 * on different days or machines merge into one table.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { execFileSync } from 'node:child_process';
import { describeBackend, initBackend, type BackendPreference } from '../../core/backend';
import { packageRoot } from '../../core/paths';
import { writeJsonAtomic } from '../../core/project/atomic';
import { ARCH_IDS, type ReproducePlan } from './plan';
import type { ArchResult } from './types';
import { runBackbone } from './backboneRun';
import { RunProgress } from './progress';
import { writeReports } from './report';

export interface ReproduceConfig {
  plan: ReproducePlan;
  /** Scratch folder for the mask projects (wiped at the start). */
  workDir: string;
  /** Where results/<arch>.json, results.md, results.csv and the figure go. */
  outDir: string;
  backend?: BackendPreference;
  /** The command line to print in the report header. */
  commandLine?: string;
  log?: (line: string) => void;
  signal?: AbortSignal;
}

/** HEAD, and whether tracked files differ from it (the run's own reports under docs/ excepted). */
export function gitCommit(): string {
  const run = (args: string[]) => execFileSync('git', args, { cwd: packageRoot(), encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  try {
    const head = run(['rev-parse', '--short', 'HEAD']);
    let dirty = false;
    try {
      dirty = run(['status', '--porcelain', '--untracked-files=no', '--', '.', ':(exclude)docs/results*']).length > 0;
    } catch {
      /* unknown: report clean */
    }
    return dirty ? `${head} (with uncommitted changes)` : head;
  } catch {
    return 'unknown (not a git checkout)';
  }
}

export function archResultFile(outDir: string, arch: string): string {
  return path.join(outDir, 'results', `${arch}.json`);
}

/** Every per-architecture result saved under outDir, in the plan's order when known. */
export function readArchResults(outDir: string, order: readonly string[] = []): ArchResult[] {
  const dir = path.join(outDir, 'results');
  if (!fs.existsSync(dir)) return [];
  const rs = fs.readdirSync(dir).filter((f) => f.endsWith('.json')).map((f) => JSON.parse(fs.readFileSync(path.join(dir, f), 'utf8')) as ArchResult);
  const rank = (a: string) => (order.includes(a) ? order.indexOf(a) : order.length);
  return rs.sort((a, b) => rank(a.arch) - rank(b.arch) || a.arch.localeCompare(b.arch));
}

export async function runReproduce(cfg: ReproduceConfig): Promise<ArchResult[]> {
  const plan = cfg.plan;
  const log = cfg.log ?? (() => {});
  const backendPref = cfg.backend ?? 'auto';
  await initBackend(backendPref);
  const backend = describeBackend();
  const workDir = path.resolve(cfg.workDir);
  fs.rmSync(workDir, { recursive: true, force: true });
  fs.mkdirSync(workDir, { recursive: true });
  log(`reproduce (${plan.mode}: ${plan.archs.map((a) => a.id).join(', ')}) on ${backend}; scratch projects in ${workDir}`);
  // The code that runs is the checkout at the start (commits made during a long run do not count).
  const commit = gitCommit();
  const progress = new RunProgress(log);
  await progress.prepare(plan);
  const done: ArchResult[] = [];
  for (const arch of plan.archs) {
    const t0 = performance.now();
    const load0 = os.loadavg()[0];
    const part = await runBackbone(arch, { protocol: plan.protocol, workDir, backend, backendPref, progress, log, signal: cfg.signal });
    const result: ArchResult = {
      ...part,
      mode: plan.mode,
      status: 'complete',
      commandLine: cfg.commandLine ?? `piggyback reproduce${plan.mode === 'quick' ? ' --quick' : ''} --arch ${arch.id}`,
      backend,
      commit,
      date: new Date().toISOString(),
      machine: `${os.cpus().length} CPU cores (${os.cpus()[0]?.model?.trim() ?? 'unknown'}), ${(os.totalmem() / 2 ** 30).toFixed(1)} GiB RAM, ${os.platform()} ${os.arch()}`,
      node: process.version,
      seconds: (performance.now() - t0) / 1000,
      loadAverage: [Number(load0.toFixed(2)), Number(os.loadavg()[0].toFixed(2))],
    };
    fs.mkdirSync(path.join(cfg.outDir, 'results'), { recursive: true });
    writeJsonAtomic(archResultFile(cfg.outDir, arch.id), result);
    done.push(result);
    log(`[${arch.id}] done in ${(result.seconds / 60).toFixed(1)} min; saved ${archResultFile(cfg.outDir, arch.id)}`);
  }
  const all = readArchResults(cfg.outDir, [...ARCH_IDS, ...plan.archs.map((a) => a.id)]);
  await writeReports(all, cfg.outDir, log);
  log(`wrote ${path.join(cfg.outDir, 'results.md')} and results.csv from ${all.map((a) => a.arch).join(', ')}`);
  return done;
}
