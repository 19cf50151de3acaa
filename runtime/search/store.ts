import { SimdMatrix } from "./simd.js";
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

  /** A zeroed matrix of rows x dims; `kernel: "js"` forces the JavaScript scan. */
  static create(rows: number, dims: number, options: { kernel?: "auto" | "js" } = {}): VectorStore {
    const simd = options.kernel === "js" ? undefined : SimdMatrix.create(rows, dims);
    return new VectorStore(rows, dims, simd);
  }

  topK(query: Float32Array, k: number): Hit[] {
    if (query.length !== this.dims) throw new Error(`query has ${query.length} dimensions, the index ${this.dims}`);
    if (this.simd) return selectTopK(this.simd.scores(query), k);
    return topK(this.data, this.dims, query, k, this.rows);
  }
}
