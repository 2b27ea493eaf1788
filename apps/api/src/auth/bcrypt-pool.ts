import { Worker } from 'node:worker_threads';

/**
 * bcrypt never runs on the event loop: a cost-10 compare takes ~50-100 ms of
 * CPU, which would stall every other request. Jobs go to a fixed set of
 * worker threads, one job per thread at a time.
 *
 * The queue is bounded and shared fairly. Every job names its owner (the
 * source's limit key); the pool takes the owners in turn, so a legitimate
 * cold login waits behind at most one job of each other source, never behind
 * a whole flood. No owner may hold more than `maxPerOwner` jobs (queued or
 * running), and the pool holds at most `maxQueued` waiting jobs: beyond
 * either, a password check is refused at once with `BcryptBusyError` instead
 * of waiting without bound. (Hashes are never refused: they come from
 * registrations and password changes, which are limited before they get here.)
 */
export interface BcryptPool {
  compare(secret: string, hash: string, owner?: string): Promise<boolean>;
  hash(secret: string, cost: number, owner?: string): Promise<string>;
  /** `compares`: password checks finished since the start (tests and metrics). */
  stats(): { threads: number; busy: number; queued: number; refused: number; compares: number };
  close(): Promise<void>;
}

export class BcryptBusyError extends Error {
  /** `owner`: this owner's share is full (it is the flood); `queue`: the whole queue is (the service is overloaded). */
  readonly scope: 'owner' | 'queue';
  constructor(scope: 'owner' | 'queue') {
    // Thrown at every refusal of a flood: no stack trace to capture, it says all it has to say.
    const limit = Error.stackTraceLimit;
    Error.stackTraceLimit = 0;
    super(
      scope === 'owner'
        ? 'this source has too many password checks waiting'
        : 'too many password checks are waiting',
    );
    Error.stackTraceLimit = limit;
    this.name = 'BcryptBusyError';
    this.scope = scope;
  }
}

export interface BcryptPoolOptions {
  readonly threads: number;
  /** Jobs that may wait for a thread, over all owners. */
  readonly maxQueued?: number;
  /** Jobs one owner may have queued or running. */
  readonly maxPerOwner?: number;
}

interface Job {
  id: number;
  owner: string;
  op: 'compare' | 'hash';
  secret: string;
  hash?: string;
  cost?: number;
  resolve: (value: boolean | string) => void;
  reject: (error: Error) => void;
}

/** Jobs without an owner (the CLI, tests) share one. */
const NO_OWNER = '';

export function createBcryptPool(options: BcryptPoolOptions | number): BcryptPool {
  const settings = typeof options === 'number' ? { threads: options } : options;
  const threads = settings.threads;
  const maxQueued = settings.maxQueued ?? 64 * threads;
  const maxPerOwner = settings.maxPerOwner ?? Math.max(2, Math.ceil(maxQueued / 16));
  const idle: Worker[] = [];
  const running = new Map<Worker, Job>();
  /** Waiting jobs per owner; Map order is the turn order (an owner served goes to the back). */
  const queues = new Map<string, Job[]>();
  /** Queued + running jobs per owner. */
  const held = new Map<string, number>();
  let queued = 0;
  let refused = 0;
  let compares = 0;
  let nextId = 1;
  let closed = false;

  const release = (owner: string) => {
    const count = (held.get(owner) ?? 1) - 1;
    if (count <= 0) held.delete(owner);
    else held.set(owner, count);
  };

  const takeNext = (): Job | undefined => {
    const first = queues.entries().next();
    if (first.done) return undefined;
    const [owner, jobs] = first.value;
    const job = jobs.shift();
    queues.delete(owner);
    if (jobs.length > 0) queues.set(owner, jobs);
    if (job) queued--;
    return job;
  };

  const dispatch = () => {
    while (idle.length > 0 && queued > 0) {
      const job = takeNext();
      if (!job) break;
      const worker = idle.pop() as Worker;
      running.set(worker, job);
      worker.postMessage({ id: job.id, op: job.op, secret: job.secret, hash: job.hash, cost: job.cost });
    }
  };

  const spawnWorker = () => {
    const worker = new Worker(new URL('./bcrypt-worker.mjs', import.meta.url));
    worker.unref();
    worker.on('message', (message: { id: number; result?: boolean | string; error?: string }) => {
      const job = running.get(worker);
      running.delete(worker);
      idle.push(worker);
      if (job) {
        release(job.owner);
        if (job.op === 'compare') compares++;
        if (message.error !== undefined) job.reject(new Error(message.error));
        else job.resolve(message.result as boolean | string);
      }
      dispatch();
    });
    worker.on('error', (error) => {
      const job = running.get(worker);
      running.delete(worker);
      if (job) {
        release(job.owner);
        job.reject(error);
      }
      if (!closed) spawnWorker();
      dispatch();
    });
    idle.push(worker);
  };
  for (let i = 0; i < threads; i++) spawnWorker();

  const submit = <T extends boolean | string>(job: Omit<Job, 'id' | 'resolve' | 'reject'>) =>
    new Promise<T>((resolve, reject) => {
      if (closed) {
        reject(new Error('the bcrypt pool is closed'));
        return;
      }
      const mine = held.get(job.owner) ?? 0;
      const mustWait = idle.length === 0;
      // Only unverified password checks are refused: hashes come from registrations
      // and password changes, which have limits of their own, and must not fail.
      if (job.op === 'compare' && (mine >= maxPerOwner || (mustWait && queued >= maxQueued))) {
        refused++;
        reject(new BcryptBusyError(mine >= maxPerOwner ? 'owner' : 'queue'));
        return;
      }
      held.set(job.owner, mine + 1);
      const jobs = queues.get(job.owner) ?? [];
      jobs.push({ ...job, id: nextId++, resolve: resolve as (value: boolean | string) => void, reject });
      queues.set(job.owner, jobs);
      queued++;
      dispatch();
    });

  return {
    compare: (secret, hash, owner = NO_OWNER) => submit<boolean>({ op: 'compare', owner, secret, hash }),
    hash: (secret, cost, owner = NO_OWNER) => submit<string>({ op: 'hash', owner, secret, cost }),
    stats: () => ({ threads, busy: running.size, queued, refused, compares }),
    async close() {
      closed = true;
      for (const jobs of queues.values())
        for (const job of jobs) job.reject(new Error('the bcrypt pool is closed'));
      queues.clear();
      queued = 0;
      const workers = [...idle, ...running.keys()];
      await Promise.all(workers.map((worker) => worker.terminate()));
    },
  };
}
