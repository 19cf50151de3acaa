import yargs from "yargs";
import { InputError, isTunebenchError } from "../../runtime/errors.js";
import { backendCommand } from "./backend.js";
import { baselineCommand } from "./baseline.js";
import { gateCommand } from "./gate.js";
import { validateCommand } from "./validate.js";
import { benchCommand } from "./bench.js";
import { checkCommand } from "./check.js";
import { EXIT, installInterruptHandler, InterruptedError, interruptedExitCode } from "./common.js";
import { detectCommand } from "./detect.js";
import { modelsCommand } from "./models.js";
import { reportCommand } from "./report.js";
import { runCommand } from "./run.js";
import { schemaCommand } from "./schema.js";
import { suiteCommand } from "./suite.js";
import { tuneCommand } from "./tune.js";
import { serveCommand } from "./serve.js";
import { sizeCommand } from "./size.js";
import { capacityCommand } from "./capacity.js";
import { sweepCommand } from "./sweep.js";

import { TUNEBENCH_VERSION } from "../../runtime/package.js";

function reportError(err: unknown): number {
  if (err instanceof InterruptedError || (err instanceof Error && err.name === "AbortError")) {
    process.stderr.write("tunebench: interrupted\n");
    return interruptedExitCode();
  }
  if (isTunebenchError(err)) {
    process.stderr.write(`tunebench: ${err.message}\n`);
    return err.exitCode;
  }
  // not a user mistake: a bug or an unexpected failure, so keep the stack
  process.stderr.write(`tunebench: unexpected error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  return EXIT.failed;
}

export async function main(argv: string[]): Promise<void> {
  installInterruptHandler();
  const cli = yargs(argv)
    .scriptName("tunebench")
    .usage("$0 <command> [options]\n\nBenchmark and tune a local-AI stack: llama.cpp inference, embeddings search and a tiered cache.")
    .command(runCommand)
    .command(suiteCommand)
    .command(checkCommand)
    .command(tuneCommand)
    .command(reportCommand)
    .command(baselineCommand)
    .command(gateCommand)
    .command(validateCommand)
    .command(sizeCommand)
    .command(capacityCommand)
    .command(sweepCommand)
    .command(detectCommand)
    .command(benchCommand)
    .command(modelsCommand)
    .command(backendCommand)
    .command(serveCommand)
    .command(schemaCommand)
    // llama-bench style flags: -fa, -ngl are names, not groups of one-letter flags
    .parserConfiguration({ "short-option-groups": false })
    .demandCommand(1, "give a command")
    .strict()
    .recommendCommands()
    .version(TUNEBENCH_VERSION)
    .help()
    .alias("h", "help")
    .wrap(Math.min(110, process.stdout.columns ?? 110))
    .epilogue(
      "Exit codes: 0 ok, 1 checks failed or regression, 2 usage or input error, 3 environment error, 130 interrupted (Ctrl-C), 143 stopped by SIGTERM.\n" +
        "Models and local state live in $TUNEBENCH_HOME (default ~/.cache/tunebench).\n" +
        "Where stderr is not a terminal, TUNEBENCH_PROGRESS=lines prints every status line at once (default: the latest every 10 s).",
    )
    .fail((msg, err) => {
      if (err) throw err;
      throw new InputError(`${msg}\nrun \`tunebench --help\` or \`tunebench <command> --help\` for usage`);
    });
  let code: number = EXIT.ok;
  try {
    await cli.parseAsync();
    code = typeof process.exitCode === "number" ? process.exitCode : EXIT.ok;
  } catch (err) {
    code = reportError(err);
  }
  // llama.cpp thread pools and open handles must not keep a finished command alive
  process.exit(code);
}
