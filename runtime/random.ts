/**
 * Seedable random numbers shared by every room: synthetic weights, corpora,
 * workloads and arrival schedules.
 */
/**
 * xorshift128: fast, seedable, and good enough for weights whose values do not
 * matter (speed depends on shape and type only) and for reproducible workloads.
 * Fills whole 32-bit words.
 */
export class Xorshift128 {
  private x: number;
  private y: number;
  private z: number;
  private w: number;
  constructor(seed: number) {
    // splitmix32 spreads a small seed over the four words of state
    let s = seed >>> 0;
    const next = (): number => {
      s = (s + 0x9e3779b9) >>> 0;
      let t = s;
      t = Math.imul(t ^ (t >>> 16), 0x85ebca6b);
      t = Math.imul(t ^ (t >>> 13), 0xc2b2ae35);
      return (t ^ (t >>> 16)) >>> 0;
    };
    this.x = next() || 1;
    this.y = next();
    this.z = next();
    this.w = next();
  }
  fill(words: Uint32Array): void {
    let { x, y, z, w } = this;
    for (let i = 0; i < words.length; i++) {
      const t = x ^ (x << 11);
      x = y;
      y = z;
      z = w;
      w = (w ^ (w >>> 19) ^ (t ^ (t >>> 8))) >>> 0;
      words[i] = w;
    }
    this.x = x;
    this.y = y;
    this.z = z;
    this.w = w;
  }
  nextU32(): number {
    const one = new Uint32Array(1);
    this.fill(one);
    return one[0] ?? 0;
  }

  /** A uniform number in [0, 1). */
  nextFloat(): number {
    return this.nextU32() / 4294967296;
  }
}
