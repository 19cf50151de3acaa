import path from "node:path";
import envPaths from "env-paths";

/**
 * tunebench's cache directory: synthetic models, SQLite files, local state.
 * `TUNEBENCH_HOME` wins; otherwise the user's cache directory
 * (`$XDG_CACHE_HOME/tunebench` or `~/.cache/tunebench` on Linux).
 */
export function tunebenchHome(env: NodeJS.ProcessEnv = process.env): string {
  const fromEnv = env.TUNEBENCH_HOME;
  if (fromEnv !== undefined && fromEnv !== "") return path.resolve(fromEnv);
  return envPaths("tunebench", { suffix: "" }).cache;
}

export function modelsDir(home: string = tunebenchHome()): string {
  return path.join(home, "models");
}
