import type { TuneRule } from "../types.js";
import backend from "./backend.js";
import batch from "./batch.js";
import cache from "./cache.js";
import gc from "./gc.js";
import memory from "./memory.js";
import prefixReuse from "./prefix-reuse.js";
import queueing from "./queueing.js";
import threads from "./threads.js";

/** Every tuning rule, one file each. */
export const TUNE_RULES: readonly TuneRule[] = [threads, backend, memory, queueing, cache, gc, batch, prefixReuse];
