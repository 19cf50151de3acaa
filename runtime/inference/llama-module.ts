import type * as NodeLlamaCpp from "node-llama-cpp";

let loading: Promise<typeof NodeLlamaCpp> | undefined;

/**
 * node-llama-cpp, imported on first use: importing it takes about half a
 * second, which every command paid at start even when it loads no model (a
 * usage error, `check`, `report`, `baseline list`).
 */
export function nodeLlamaCpp(): Promise<typeof NodeLlamaCpp> {
  loading ??= import("node-llama-cpp");
  return loading;
}
