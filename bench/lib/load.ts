// A closed-loop load generator: `concurrency` workers each issue one request at a time, bounded
// by a request count and a duration, recording every latency.
import { percentile } from "./report.js";

export interface LoadResult {
  concurrency: number;
  requests: number;
  errors: number;
  seconds: number;
  throughput: number;
  p50Ms: number;
  p99Ms: number;
  p999Ms: number;
}

export async function runLoad(opts: {
  concurrency: number;
  durationMs: number;
  requestsMax: number;
  op: (worker: number, seq: number) => Promise<unknown>;
  /** Called about every 250 ms with the completed count (for a progress line). */
  onProgress?: (done: number) => void;
  /** Called with every failed request's error (failures are counted in `errors` either way). */
  onError?: (err: unknown) => void;
}): Promise<LoadResult> {
  const latencies: number[] = [];
  let errors = 0;
  let issued = 0;
  const start = performance.now();
  const until = start + opts.durationMs;
  const timer = setInterval(() => opts.onProgress?.(latencies.length + errors), 250);
  const worker = async (w: number) => {
    while (performance.now() < until && issued < opts.requestsMax) {
      const seq = issued++;
      const t0 = performance.now();
      try {
        await opts.op(w, seq);
        latencies.push(performance.now() - t0);
      } catch (err) {
        errors++;
        opts.onError?.(err);
      }
    }
  };
  await Promise.all(Array.from({ length: opts.concurrency }, (_, w) => worker(w)));
  clearInterval(timer);
  const seconds = (performance.now() - start) / 1000;
  latencies.sort((a, b) => a - b);
  return {
    concurrency: opts.concurrency,
    requests: latencies.length,
    errors,
    seconds,
    throughput: latencies.length / seconds,
    p50Ms: percentile(latencies, 50),
    p99Ms: percentile(latencies, 99),
    p999Ms: percentile(latencies, 99.9),
  };
}
