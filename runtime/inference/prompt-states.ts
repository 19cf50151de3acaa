import { existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import type { LlamaContextSequence, Token } from "node-llama-cpp";

/**
 * Evaluated prompts kept in host memory, as llama-server's `--cache-ram` keeps
 * them: before a sequence's cached tokens are dropped for another prompt, its
 * state (KV cache and tokens) is saved; a later prompt that shares more with a
 * saved state than with any free sequence has it loaded into its sequence, and
 * evaluates only the rest. States are files in a private folder (in /dev/shm
 * where there is one: memory, not disk), at most `maxBytes` in all, the least
 * recently used dropped first, and removed with the engine.
 */

/** A sequence's cached tokens are saved when dropping them would lose at least this many. */
export const MIN_SAVED_TOKENS = 256;
/** A saved state is loaded when it shares at least this many more tokens with the prompt than the sequence does. */
export const MIN_RESTORE_GAIN = 64;

const PREFIX = "tunebench-prompt-states-";

interface Entry {
  tokens: Token[];
  file: string;
  bytes: number;
  used: number;
}

/** The length of the common prefix of two token lists. */
export function sharedPrefix(a: readonly Token[], b: readonly Token[]): number {
  const n = Math.min(a.length, b.length);
  let i = 0;
  while (i < n && a[i] === b[i]) i++;
  return i;
}

export class PromptStates {
  private readonly entries: Entry[] = [];
  private dir: string | undefined;
  private uses = 0;
  private serial = 0;
  /** Bytes held, states saved and loaded since the engine started. */
  readonly stats = { bytes: 0, saved: 0, restored: 0 };

  constructor(private readonly maxBytes: number) {}

  /** The folder of the saved states, once one was saved. */
  get folderPath(): string | undefined {
    return this.dir;
  }

  get enabled(): boolean {
    return this.maxBytes > 0;
  }

  /** The saved state that shares the longest prefix with `prompt`, and how long. */
  best(prompt: readonly Token[]): { entry: Entry; shared: number } | undefined {
    let best: { entry: Entry; shared: number } | undefined;
    for (const entry of this.entries) {
      const shared = sharedPrefix(entry.tokens, prompt);
      if (shared > (best?.shared ?? 0)) best = { entry, shared };
    }
    return best;
  }

  /** Saves what `sequence` holds, unless a saved state already holds it (or more of the same). */
  async save(sequence: LlamaContextSequence): Promise<void> {
    if (!this.enabled) return;
    const tokens = sequence.contextTokens;
    if (tokens.length < MIN_SAVED_TOKENS) return;
    // a state that starts with all of these tokens already covers them; one that these extend is replaced
    if (this.entries.some((e) => e.tokens.length >= tokens.length && sharedPrefix(e.tokens, tokens) === tokens.length)) return;
    for (const e of this.entries.filter((x) => sharedPrefix(x.tokens, tokens) === x.tokens.length)) await this.drop(e);
    const file = path.join(this.folder(), `${++this.serial}.state`);
    const { fileSize } = await sequence.saveStateToFile(file);
    this.entries.push({ tokens, file, bytes: fileSize, used: ++this.uses });
    this.stats.bytes += fileSize;
    this.stats.saved++;
    while (this.stats.bytes > this.maxBytes && this.entries.length > 0) {
      const oldest = this.entries.reduce((a, b) => (a.used <= b.used ? a : b));
      await this.drop(oldest);
    }
  }

  /** Loads `entry` into `sequence` (its tokens are then the entry's). */
  async restore(sequence: LlamaContextSequence, entry: Entry): Promise<void> {
    await sequence.clearHistory();
    // the state was saved by this engine from this model, in this process's own folder
    await sequence.loadStateFromFile(entry.file, { acceptRisk: true });
    entry.used = ++this.uses;
    this.stats.restored++;
  }

  /** Removes every saved state and the folder. */
  async close(): Promise<void> {
    this.entries.length = 0;
    this.stats.bytes = 0;
    if (this.dir) await rm(this.dir, { recursive: true, force: true });
    this.dir = undefined;
  }

  private async drop(entry: Entry): Promise<void> {
    this.entries.splice(this.entries.indexOf(entry), 1);
    this.stats.bytes -= entry.bytes;
    await rm(entry.file, { force: true });
  }

  private folder(): string {
    if (this.dir) return this.dir;
    const base = existsSync("/dev/shm") ? "/dev/shm" : os.tmpdir();
    removeOrphans(base);
    this.dir = mkdtempSync(path.join(base, `${PREFIX}${process.pid}-`));
    return this.dir;
  }
}

/** Folders left by a runtime that was killed (its pid is gone): they are never read again. */
function removeOrphans(base: string): void {
  let names: string[];
  try {
    names = readdirSync(base).filter((n) => n.startsWith(PREFIX));
  } catch {
    return;
  }
  for (const name of names) {
    const pid = Number(name.slice(PREFIX.length).split("-")[0]);
    if (!Number.isInteger(pid) || pid === process.pid || alive(pid)) continue;
    rmSync(path.join(base, name), { recursive: true, force: true });
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}
