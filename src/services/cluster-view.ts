// What a worker of `portcullis serve --workers N` knows of the whole service:
// the primary process (src/cluster.ts) keeps the list of workers and gathers
// every worker's metrics; a worker asks it over the cluster's IPC channel. A
// single process has no such view, and /healthz and /metrics describe it alone.

/** One worker as the primary sees it. */
export interface WorkerStatus {
  /** 1 … N: the slot, kept by a worker that replaces a dead one. */
  id: number;
  /** 'listening' once it accepts requests; 'starting' while it is being (re)started. */
  state: 'starting' | 'listening';
  /** How often this slot's worker died and was replaced. */
  restarts: number;
  /** When the slot's current worker was started (epoch ms). */
  startedAt: number;
}

export interface ClusterView {
  /** The id of the worker that answers (this process). */
  worker: number;
  /** Every worker of the service; rejects when the primary does not answer. */
  workers(): Promise<WorkerStatus[]>;
  /** The service's metrics, every worker's summed, in Prometheus' text format. */
  metrics(): Promise<string>;
}
