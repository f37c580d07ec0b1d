// A worker thread of `lifeboat check` (see check-threads.ts): it claims files as the main thread
// does, parses them, sends what the index needs, then reviews them against the whole index.
import { parentPort, workerData } from 'node:worker_threads';
import { CheckShare, claimer, type ManifestRef } from './check-share.js';
import type { ReviewRequest, WorkerInput } from './check-threads.js';

const input = workerData as WorkerInput;
const port = parentPort;
if (!port) throw new Error('check-worker.js runs only as a worker thread');

const share = new CheckShare(input.sources, input.settings);
// Said before the first claim: the main thread waits only for workers that may hold a file.
Atomics.add(input.claims, input.slot, 1);
port.postMessage(share.parseClaimed(claimer(input.claims, input.sources.length)));
port.once('message', (request: ReviewRequest) => {
  const names: readonly ManifestRef[] = request.names;
  port.postMessage(share.review(request.others, names));
});
