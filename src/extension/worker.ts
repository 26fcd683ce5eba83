/**
 * Entry of dist/worker.js: runs one engine job (TF.js work) off the extension host's
 * event loop. Receives {type:'run', job}, streams TrainEvents, answers with one
 * 'result' or 'error'. {type:'cancel'} aborts the job's AbortController. A long-lived
 * WorkerSession instead sends {type:'call', id, job} repeatedly, answered by 'reply'/'replyError'.
 */
import { parentPort } from 'node:worker_threads';
import * as engine from '../core/engine';
import { storeNotices } from '../core/project/projectDir';
import { analyzeLayerFilters } from '../core/project/filters';
import type { TrainEvent } from '../core/types';
import { serializeError } from './jobErrors';
import type { HostToWorker, JobRequest, WorkerToHost } from './workerProtocol';

const port = parentPort;
if (!port) throw new Error('worker.js must run in a worker thread');

// Repairs made while opening a project (adopted or removed task folders) go to the output channel.
storeNotices.sink = (line) => post({ type: 'log', message: line });

const abort = new AbortController();
let started = false;

function post(m: WorkerToHost): void {
  port!.postMessage(m);
}

/** Step events can come fast; keep at most ~20/s plus every epoch's last step. */
let lastStepPost = 0;
function onEvent(e: TrainEvent): void {
  if (e.type === 'step') {
    const now = Date.now();
    if (now - lastStepPost < 50 && e.step !== e.stepsPerEpoch && e.step !== 1) return;
    lastStepPost = now;
  }
  post({ type: 'event', event: e });
}

async function run(job: JobRequest): Promise<unknown> {
  switch (job.kind) {
    case 'train':
      return engine.trainTask(job.req, onEvent, abort.signal);
    case 'evaluate':
      return engine.evaluateTask(job.req, abort.signal);
    case 'baselines':
      return engine.runBaselines(job.req, onEvent, abort.signal);
    case 'createProject':
      return engine.createProject(job.req);
    case 'deleteTask':
      engine.deleteTask(job.projectDir, job.task);
      return null;
    case 'relink':
      return engine.relinkBackbone(job.req);
    case 'rethreshold':
      return engine.rethresholdTask(job.req, abort.signal);
    case 'forgetting':
      return engine.forgettingMatrix(job.req, undefined, abort.signal);
    case 'similarity':
      return engine.taskSimilarity(job.req);
    case 'inference':
      return engine.inferTasks(job.req);
    case 'filters':
      return analyzeLayerFilters(job.req.projectDir, job.req.layer, { diff: job.req.diff, positionsOf: job.req.positionsOf });
  }
}

port.on('message', (m: HostToWorker) => {
  if (m.type === 'cancel') {
    abort.abort();
    return;
  }
  if (m.type === 'call') {
    // WorkerSession sends one call at a time and waits for its answer.
    run(m.job).then(
      (result) => post({ type: 'reply', id: m.id, result: result ?? null }),
      (e: unknown) => post({ type: 'replyError', id: m.id, error: serializeError(e) }),
    );
    return;
  }
  if (m.type !== 'run' || started) return;
  started = true;
  run(m.job).then(
    (result) => post({ type: 'result', result: result ?? null }),
    (e: unknown) => post({ type: 'error', error: serializeError(e) }),
  );
});
