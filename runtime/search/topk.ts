/** One search hit: the row of the vector and its score (dot product, cosine for normalised vectors). */
export interface Hit {
  row: number;
  score: number;
}

/**
 * The dot product of `query` with each of `count` vectors of `dims` floats stored
 * one after another in `vectors`, into `out`. The inner product is unrolled by 8
 * with independent accumulators so V8 keeps the loads flowing.
 */
export function dotAll(vectors: Float32Array, dims: number, query: Float32Array, count: number, out = new Float32Array(count)): Float32Array {
  const tail = dims - (dims % 8);
  for (let row = 0, base = 0; row < count; row++, base += dims) {
    let a0 = 0;
    let a1 = 0;
    let a2 = 0;
    let a3 = 0;
    let a4 = 0;
    let a5 = 0;
    let a6 = 0;
    let a7 = 0;
    let i = 0;
    for (; i < tail; i += 8) {
      const b = base + i;
      a0 += vectors[b]! * query[i]!;
      a1 += vectors[b + 1]! * query[i + 1]!;
      a2 += vectors[b + 2]! * query[i + 2]!;
      a3 += vectors[b + 3]! * query[i + 3]!;
      a4 += vectors[b + 4]! * query[i + 4]!;
      a5 += vectors[b + 5]! * query[i + 5]!;
      a6 += vectors[b + 6]! * query[i + 6]!;
      a7 += vectors[b + 7]! * query[i + 7]!;
    }
    for (; i < dims; i++) a0 += vectors[base + i]! * query[i]!;
    out[row] = a0 + a1 + a2 + a3 + a4 + a5 + a6 + a7;
  }
  return out;
}

/** Exact top-k by dot product (the JavaScript scan): every score, then the k best. */
export function topK(vectors: Float32Array, dims: number, query: Float32Array, k: number, count = Math.floor(vectors.length / dims)): Hit[] {
  if (query.length !== dims) throw new Error(`query has ${query.length} dimensions, the index ${dims}`);
  return selectTopK(dotAll(vectors, dims, query, count), k);
}

/** The reference: every score, sorted. For tests and checks, not for serving. */
export function bruteForceTopK(vectors: Float32Array, dims: number, query: Float32Array, k: number): Hit[] {
  const count = Math.floor(vectors.length / dims);
  const all: Hit[] = [];
  for (let row = 0; row < count; row++) {
    let s = 0;
    for (let i = 0; i < dims; i++) s += vectors[row * dims + i]! * query[i]!;
    all.push({ row, score: s });
  }
  return all.sort((x, y) => y.score - x.score || x.row - y.row).slice(0, k);
}

/** The `k` best of `scores` (row = index), best first, ties by row: one pass with a k-slot min-heap. */
export function selectTopK(scores: Float32Array, k: number): Hit[] {
  const want = Math.min(k, scores.length);
  if (want <= 0) return [];
  const heapScore = new Float64Array(want);
  const heapRow = new Int32Array(want);
  let size = 0;
  for (let row = 0; row < scores.length; row++) {
    const score = scores[row]!;
    if (size < want) {
      let j = size++;
      while (j > 0) {
        const parent = (j - 1) >> 1;
        if (heapScore[parent]! <= score) break;
        heapScore[j] = heapScore[parent]!;
        heapRow[j] = heapRow[parent]!;
        j = parent;
      }
      heapScore[j] = score;
      heapRow[j] = row;
    } else if (score > heapScore[0]!) {
      let j = 0;
      for (;;) {
        const l = 2 * j + 1;
        if (l >= want) break;
        const r = l + 1;
        const c = r < want && heapScore[r]! < heapScore[l]! ? r : l;
        if (heapScore[c]! >= score) break;
        heapScore[j] = heapScore[c]!;
        heapRow[j] = heapRow[c]!;
        j = c;
      }
      heapScore[j] = score;
      heapRow[j] = row;
    }
  }
  const hits: Hit[] = [];
  for (let j = 0; j < size; j++) hits.push({ row: heapRow[j]!, score: heapScore[j]! });
  return hits.sort((x, y) => y.score - x.score || x.row - y.row);
}
