import path from "node:path";
import { fileURLToPath } from "node:url";

/** The node-llama-cpp package's root folder (its entry is dist/index.js). */
export function nodeLlamaCppDir(): string {
  return path.resolve(path.dirname(fileURLToPath(import.meta.resolve("node-llama-cpp"))), "..");
}
