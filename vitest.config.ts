import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // two test files at a time: most of a file's time is spent waiting on the child
    // processes it starts (a runtime starting, a warm-up, a measured window), so two
    // overlap well on 2 cores; tests assert on what is counted, never on how fast
    fileParallelism: true,
    maxWorkers: 2,
    testTimeout: 120_000,
    hookTimeout: 120_000,
    // names the file of a worker that dies without a word (see the helper)
    setupFiles: ["test/helpers/file-log.ts"],
    reporters: ["default", "json"],
    outputFile: { json: ".vitest-report.json" },
  },
});
