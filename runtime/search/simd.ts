import os from "node:os";
import { Worker } from "node:worker_threads";
/**
 * A WebAssembly SIMD kernel for the scan in top-k: the dot product of one query
 * with every row of a float32 matrix, four lanes at a time with four independent
 * accumulators (16 floats per step). The module is assembled here, byte by byte:
 * it is one small function, and carrying it as code keeps the build free of
 * tools and binaries.
 *
 *   (func (export "scores") (param $m i32) (param $q i32) (param $out i32) (param $rows i32) (param $dims i32)
 *     rows of `dims` floats at $m, the query at $q, one f32 score per row to $out;
 *     `dims` must be a multiple of 16)
 */

// The WebAssembly global of the JS engine, typed for what is used here (the project's libs carry no DOM types).
declare namespace WebAssembly {
  class Memory {
    constructor(descriptor: { initial: number; maximum?: number; shared?: boolean });
    readonly buffer: ArrayBuffer;
  }
  class Module {
    constructor(bytes: Uint8Array);
  }
  class Instance {
    constructor(module: Module, imports: Record<string, Record<string, unknown>>);
    readonly exports: Record<string, unknown>;
  }
}

const leb = (n: number): number[] => {
  const out: number[] = [];
  do {
    let byte = n & 0x7f;
    n >>>= 7;
    if (n !== 0) byte |= 0x80;
    out.push(byte);
  } while (n !== 0);
  return out;
};
const sleb = (n: number): number[] => {
  const out: number[] = [];
  for (;;) {
    const byte = n & 0x7f;
    n >>= 7;
    if ((n === 0 && (byte & 0x40) === 0) || (n === -1 && (byte & 0x40) !== 0)) {
      out.push(byte);
      return out;
    }
    out.push(byte | 0x80);
  }
};
const str = (s: string): number[] => [...leb(s.length), ...Buffer.from(s, "utf8")];
const section = (id: number, body: number[]): number[] => [id, ...leb(body.length), ...body];

// opcodes
const LOCAL_GET = 0x20;
const LOCAL_SET = 0x21;
const I32_CONST = 0x41;
const I32_ADD = 0x6a;
const I32_MUL = 0x6c;
const I32_LT_U = 0x49;
const F32_ADD = 0x92;
const F32_STORE = 0x38;
const LOOP = 0x03;
const BR_IF = 0x0d;
const END = 0x0b;
const VOID = 0x40;
const SIMD = 0xfd;
const v128Load = (offset: number): number[] => [SIMD, 0x00, 0x04, ...leb(offset)]; // align 2^4
const F32X4_ADD = [SIMD, ...leb(228)];
const F32X4_MUL = [SIMD, ...leb(230)];
const extractLane = (lane: number): number[] => [SIMD, ...leb(31), lane];
const v128Zero = [SIMD, ...leb(12), ...new Array<number>(16).fill(0)];

// locals: params 0..4 ($m $q $out $rows $dims), then i32 $r(5) $p(6) $qp(7) $end(8), v128 $a0..$a3 (9..12)
const M = 0;
const Q = 1;
const OUT = 2;
const ROWS = 3;
const DIMS = 4;
const R = 5;
const P = 6;
const QP = 7;
const END_P = 8;
const A = [9, 10, 11, 12] as const;

function body(): number[] {
  const code: number[] = [];
  const emit = (...b: (number | number[])[]): void => {
    for (const x of b) Array.isArray(x) ? code.push(...x) : code.push(x);
  };
  // $r = 0
  emit(I32_CONST, 0, LOCAL_SET, R);
  emit(LOOP, VOID); // rows
  for (const a of A) emit(v128Zero, LOCAL_SET, a);
  // $p = $m; $qp = $q; $end = $m + $dims * 4
  emit(LOCAL_GET, M, LOCAL_SET, P);
  emit(LOCAL_GET, Q, LOCAL_SET, QP);
  emit(LOCAL_GET, M, LOCAL_GET, DIMS, I32_CONST, 4, I32_MUL, I32_ADD, LOCAL_SET, END_P);
  emit(LOOP, VOID); // 16 floats per step
  A.forEach((a, i) => {
    emit(LOCAL_GET, a, LOCAL_GET, P, v128Load(16 * i), LOCAL_GET, QP, v128Load(16 * i), F32X4_MUL, F32X4_ADD, LOCAL_SET, a);
  });
  emit(LOCAL_GET, P, I32_CONST, ...sleb(64), I32_ADD, LOCAL_SET, P);
  emit(LOCAL_GET, QP, I32_CONST, ...sleb(64), I32_ADD, LOCAL_SET, QP);
  emit(LOCAL_GET, P, LOCAL_GET, END_P, I32_LT_U, BR_IF, 0);
  emit(END);
  // out[r] = horizontal sum of a0 + a1 + a2 + a3
  emit(LOCAL_GET, OUT, LOCAL_GET, R, I32_CONST, 4, I32_MUL, I32_ADD);
  emit(LOCAL_GET, A[0], LOCAL_GET, A[1], F32X4_ADD, LOCAL_GET, A[2], F32X4_ADD, LOCAL_GET, A[3], F32X4_ADD, LOCAL_SET, A[0]);
  emit(LOCAL_GET, A[0], extractLane(0), LOCAL_GET, A[0], extractLane(1), F32_ADD, LOCAL_GET, A[0], extractLane(2), F32_ADD, LOCAL_GET, A[0], extractLane(3), F32_ADD);
  emit(F32_STORE, 0x02, 0x00);
  // $m = $end; $r++; loop while $r < $rows
  emit(LOCAL_GET, END_P, LOCAL_SET, M);
  emit(LOCAL_GET, R, I32_CONST, 1, I32_ADD, LOCAL_SET, R);
  emit(LOCAL_GET, R, LOCAL_GET, ROWS, I32_LT_U, BR_IF, 0);
  emit(END);
  emit(END); // function
  const locals = [2, ...leb(4), 0x7f, ...leb(4), 0x7b]; // 4 x i32, 4 x v128
  const fn = [...locals, ...code];
  return [...leb(fn.length), ...fn];
}

/**
 *   (func (export "readsum") (param $p i32) (param $end i32) (result i32)
 *     reads [$p, $end) 64 bytes at a time into four i32x4 sums: the fastest read
 *     one thread can do, for the bandwidth probe)
 */
function readsumBody(): number[] {
  const I32X4_ADD = [SIMD, ...leb(174)];
  const i32ExtractLane = (lane: number): number[] => [SIMD, ...leb(27), lane];
  const code: number[] = [];
  const emit = (...b: (number | number[])[]): void => {
    for (const x of b) Array.isArray(x) ? code.push(...x) : code.push(x);
  };
  const [PP, PEND] = [0, 1];
  const ACC = [2, 3, 4, 5];
  for (const a of ACC) emit(v128Zero, LOCAL_SET, a);
  emit(LOOP, VOID);
  ACC.forEach((a, i) => emit(LOCAL_GET, a, LOCAL_GET, PP, v128Load(16 * i), I32X4_ADD, LOCAL_SET, a));
  emit(LOCAL_GET, PP, I32_CONST, ...sleb(64), I32_ADD, LOCAL_SET, PP);
  emit(LOCAL_GET, PP, LOCAL_GET, PEND, I32_LT_U, BR_IF, 0);
  emit(END);
  emit(LOCAL_GET, ACC[0]!, LOCAL_GET, ACC[1]!, I32X4_ADD, LOCAL_GET, ACC[2]!, I32X4_ADD, LOCAL_GET, ACC[3]!, I32X4_ADD, LOCAL_SET, ACC[0]!);
  emit(LOCAL_GET, ACC[0]!, i32ExtractLane(0), LOCAL_GET, ACC[0]!, i32ExtractLane(1), I32_ADD, LOCAL_GET, ACC[0]!, i32ExtractLane(2), I32_ADD, LOCAL_GET, ACC[0]!, i32ExtractLane(3), I32_ADD);
  emit(END);
  const fn = [1, ...leb(4), 0x7b, ...code];
  return [...leb(fn.length), ...fn];
}

/** The module; `shared`: it imports a shared memory (limits 1 to 65536 pages), for the worker threads of a parallel scan. */
function moduleBytes(shared = false): Uint8Array {
  const I32 = 0x7f;
  const type = section(1, [2, 0x60, 5, I32, I32, I32, I32, I32, 0, 0x60, 2, I32, I32, 1, I32]);
  const limits = shared ? [0x03, ...leb(1), ...leb(65536)] : [0x00, 1];
  const imports = section(2, [1, ...str("env"), ...str("memory"), 0x02, ...limits]);
  const funcs = section(3, [2, 0, 1]);
  const exports = section(7, [2, ...str("scores"), 0x00, 0, ...str("readsum"), 0x00, 1]);
  const code = section(10, [2, ...body(), ...readsumBody()]);
  return Uint8Array.from([0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, ...type, ...imports, ...funcs, ...exports, ...code]);
}

const PAGE = 65536;

/**
 * Worker threads that run the module's two functions on their share of the
 * work, over one shared WebAssembly memory, synchronously: the caller's thread
 * takes share 0, each worker one more, and the call returns when all are done
 * (Atomics.wait/notify on a control block, no messages on the hot path).
 */
class ScanPool {
  private readonly ctrl: Int32Array;
  private readonly workers: Worker[] = [];
  private closed = false;

  constructor(
    memory: WebAssembly.Memory,
    readonly parts: number,
  ) {
    this.ctrl = new Int32Array(new SharedArrayBuffer(4 * (16 + parts)));
    for (let index = 1; index < parts; index++) {
      const w = new Worker(WORKER_SOURCE, { eval: true, workerData: { memory, bytes: moduleBytes(true), ctrl: this.ctrl.buffer, index, parts } });
      // a scan pool never keeps the process alive; its threads sleep in Atomics.wait between calls
      w.unref();
      this.workers.push(w);
    }
  }

  /** Runs op 0 (scores: m, q, out, rows, dims) or op 1 (readsum: p, end) over all shares; answers the readsum total. */
  run(op: 0 | 1, args: number[], own: (index: number, parts: number) => number): number {
    if (this.closed) throw new Error("internal: the scan pool is closed");
    const c = this.ctrl;
    Atomics.store(c, CTRL.done, 0);
    c[CTRL.op] = op;
    args.forEach((v, i) => (c[CTRL.args + i] = v | 0));
    Atomics.add(c, CTRL.generation, 1);
    Atomics.notify(c, CTRL.generation);
    let total = own(0, this.parts);
    const deadline = performance.now() + 60_000;
    for (;;) {
      const done = Atomics.load(c, CTRL.done);
      if (done >= this.parts - 1) break;
      // a worker that died would leave this thread waiting for ever
      if (performance.now() > deadline) throw new Error(`internal: a scan worker did not finish within 60 s (${done} of ${this.parts - 1} done)`);
      Atomics.wait(c, CTRL.done, done, 1000);
    }
    if (op === 1) for (let i = 1; i < this.parts; i++) total += c[CTRL.results + i]!;
    return total;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const w of this.workers) void w.terminate();
  }
}

const CTRL = { generation: 0, done: 1, op: 2, args: 3, results: 16 } as const;

/** Share `index` of `parts` of the half-open range [0, n), in units. */
export function share(n: number, index: number, parts: number): [number, number] {
  return [Math.floor((n * index) / parts), Math.floor((n * (index + 1)) / parts)];
}

// The worker: wait for a new generation, do its share, count itself done.
const WORKER_SOURCE = `
const { workerData } = require("node:worker_threads");
const { memory, bytes, ctrl: buf, index, parts } = workerData;
const { scores, readsum } = new WebAssembly.Instance(new WebAssembly.Module(bytes), { env: { memory } }).exports;
const c = new Int32Array(buf);
const share = (n) => [Math.floor((n * index) / parts), Math.floor((n * (index + 1)) / parts)];
let seen = 0; // the generation when the pool was made: a call made before this thread started is still seen
for (;;) {
  Atomics.wait(c, ${CTRL.generation}, seen);
  seen = Atomics.load(c, ${CTRL.generation});
  const a = ${CTRL.args};
  if (c[${CTRL.op}] === 0) {
    const [m, q, out, rows, dims] = [c[a] >>> 0, c[a + 1] >>> 0, c[a + 2] >>> 0, c[a + 3], c[a + 4]];
    const [r0, r1] = share(rows);
    if (r1 > r0) scores(m + r0 * dims * 4, q, out + r0 * 4, r1 - r0, dims);
  } else {
    const [p, end] = [c[a] >>> 0, c[a + 1] >>> 0];
    const [b0, b1] = share((end - p) / 64);
    c[${CTRL.results} + index] = b1 > b0 ? readsum(p + b0 * 64, p + b1 * 64) : 0;
  }
  Atomics.add(c, ${CTRL.done}, 1);
  Atomics.notify(c, ${CTRL.done});
}
`;

/** Below this many matrix bytes a scan stays on one thread: waking workers would cost more than it saves. */
export const PARALLEL_MIN_BYTES = 16 * 1024 * 1024;

/** Threads a scan of `bytes` uses when the caller does not say: the machine's cores (at most 8) for a large matrix, else 1. */
export function defaultScanThreads(bytes: number): number {
  return bytes >= PARALLEL_MIN_BYTES ? Math.max(1, Math.min(8, os.availableParallelism())) : 1;
}

function wasmMemory(bytes: number, shared: boolean): WebAssembly.Memory {
  const pages = Math.ceil(bytes / PAGE);
  return shared ? new WebAssembly.Memory({ initial: pages, maximum: pages, shared: true }) : new WebAssembly.Memory({ initial: pages });
}

/**
 * A probe of read bandwidth: SIMD loads over `bytes` of written memory, by
 * `threads` threads at once (each its share). `pass()` reads it all once and
 * answers GB/s. Undefined without WebAssembly SIMD.
 */
export function createReadProbe(bytes: number, threads = 1): { bytes: number; threads: number; pass(): number; close(): void } | undefined {
  const size = Math.ceil(bytes / PAGE) * PAGE;
  let readsum: (p: number, end: number) => number;
  let pool: ScanPool | undefined;
  try {
    const memory = wasmMemory(size, threads > 1);
    const instance = new WebAssembly.Instance(new WebAssembly.Module(moduleBytes(threads > 1)), { env: { memory } });
    readsum = instance.exports.readsum as typeof readsum;
    new Uint8Array(memory.buffer).fill(1);
    if (threads > 1) pool = new ScanPool(memory, threads);
  } catch {
    return undefined;
  }
  const read = (): number =>
    pool
      ? pool.run(1, [0, size], (index, parts) => {
          const [b0, b1] = share(size / 64, index, parts);
          return b1 > b0 ? readsum(b0 * 64, b1 * 64) : 0;
        })
      : readsum(0, size);
  read();
  return {
    bytes: size,
    threads: pool ? threads : 1,
    pass: () => {
      const t0 = performance.now();
      const sum = read();
      const ms = performance.now() - t0;
      if (sum === 0) throw new Error("internal: the read probe read nothing");
      return size / 1e6 / ms;
    },
    close: () => pool?.close(),
  };
}

/**
 * A float32 matrix in WebAssembly memory, scored against queries by the SIMD
 * kernel, on `threads` threads (the caller's and worker threads over a shared
 * memory). Undefined where this runtime has no WebAssembly SIMD.
 */
export class SimdMatrix {
  readonly matrix: Float32Array;
  private readonly query: Float32Array;
  private readonly out: Float32Array;
  private readonly scoresFn: (m: number, q: number, out: number, rows: number, dims: number) => void;

  private constructor(
    readonly rows: number,
    readonly dims: number,
    memory: WebAssembly.Memory,
    instance: WebAssembly.Instance,
    private readonly pool: ScanPool | undefined,
  ) {
    const matrixBytes = rows * dims * 4;
    this.matrix = new Float32Array(memory.buffer, 0, rows * dims);
    this.query = new Float32Array(memory.buffer, matrixBytes, dims);
    this.out = new Float32Array(memory.buffer, matrixBytes + dims * 4, rows);
    this.scoresFn = instance.exports.scores as SimdMatrix["scoresFn"];
  }

  /** Threads one scan uses. */
  get threads(): number {
    return this.pool?.parts ?? 1;
  }

  /** A zeroed rows x dims matrix, or undefined when SIMD is unavailable or dims is not a multiple of 16. */
  static create(rows: number, dims: number, threads = 1): SimdMatrix | undefined {
    if (dims % 16 !== 0 || rows === 0) return undefined;
    const bytes = rows * dims * 4 + dims * 4 + rows * 4;
    if (bytes > 2 ** 32 - PAGE) return undefined;
    const parallel = threads > 1 && rows >= threads;
    try {
      const memory = wasmMemory(bytes, parallel);
      const instance = new WebAssembly.Instance(new WebAssembly.Module(moduleBytes(parallel)), { env: { memory } });
      return new SimdMatrix(rows, dims, memory, instance, parallel ? new ScanPool(memory, threads) : undefined);
    } catch {
      return undefined;
    }
  }

  /** The dot product of `query` with every row (a view, valid until the next call). */
  scores(query: Float32Array): Float32Array {
    this.query.set(query);
    const m = 0;
    const q = this.matrix.byteLength;
    const out = q + this.dims * 4;
    if (!this.pool) {
      this.scoresFn(m, q, out, this.rows, this.dims);
      return this.out;
    }
    this.pool.run(0, [m, q, out, this.rows, this.dims], (index, parts) => {
      const [r0, r1] = share(this.rows, index, parts);
      if (r1 > r0) this.scoresFn(m + r0 * this.dims * 4, q, out + r0 * 4, r1 - r0, this.dims);
      return 0;
    });
    return this.out;
  }

  /** Stops the worker threads (a matrix on one thread has none). */
  close(): void {
    this.pool?.close();
  }
}
