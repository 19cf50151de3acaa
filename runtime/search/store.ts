import { defaultScanThreads, SimdMatrix } from "./simd.js";
import { selectTopK, topK, type Hit } from "./topk.js";

/**
 * The vectors of an index in one contiguous float32 matrix, scanned for top-k by
 * the WebAssembly SIMD kernel where it can run (dims a multiple of 16), else by
 * the unrolled JavaScript loop.
 */
export class VectorStore {
  readonly data: Float32Array;
  readonly kernel: "wasm-simd" | "js";
  private readonly simd: SimdMatrix | undefined;

  private constructor(
    readonly rows: number,
    readonly dims: number,
    simd: SimdMatrix | undefined,
  ) {
    this.simd = simd;
    this.data = simd ? simd.matrix : new Float32Array(rows * dims);
    this.kernel = simd ? "wasm-simd" : "js";
  }

  /**
   * A zeroed matrix of rows x dims; `kernel: "js"` forces the JavaScript scan;
   * `threads`: how many threads scan it (default: the cores for a matrix of 16 MiB
   * or more, else 1; the SIMD kernel only).
   */
  static create(rows: number, dims: number, options: { kernel?: "auto" | "js"; threads?: number } = {}): VectorStore {
    const simd = options.kernel === "js" ? undefined : SimdMatrix.create(rows, dims, options.threads ?? defaultScanThreads(rows * dims * 4));
    return new VectorStore(rows, dims, simd);
  }

  /** Threads one scan uses. */
  get threads(): number {
    return this.simd?.threads ?? 1;
  }

  /** Stops the scan's worker threads, if it has any. */
  close(): void {
    this.simd?.close();
  }

  topK(query: Float32Array, k: number): Hit[] {
    if (query.length !== this.dims) throw new Error(`query has ${query.length} dimensions, the index ${this.dims}`);
    if (this.simd) return selectTopK(this.simd.scores(query), k);
    return topK(this.data, this.dims, query, k, this.rows);
  }
}
