import type { CommandModule } from "yargs";
import { detectHardware } from "../detect/index.js";
import { writeJson } from "./common.js";
import { formatBytes } from "../format.js";

interface DetectArgs {
  json: boolean;
}

export const detectCommand: CommandModule<object, DetectArgs> = {
  command: "detect",
  describe: "Detect the hardware and software a measurement depends on: CPU, memory, container limits, GPUs, disks, OS, Node, llama.cpp builds",
  builder: (y) => y.option("json", { type: "boolean", default: false, describe: "print everything as JSON" }),
  handler: async (args) => {
    const h = await detectHardware();
    if (args.json) {
      writeJson(h);
      return;
    }
    const c = h.cpu;
    const backend = "error" in h.runtime.backend ? `unavailable (${h.runtime.backend.error})` : `${h.runtime.backend.label}, llama.cpp ${h.runtime.backend.llamaCppRelease}`;
    const local = "error" in h.runtime.localBackend ? "none (`tunebench backend build` makes one)" : h.runtime.localBackend.label;
    const cg = h.cgroup;
    const rows: Array<[string, string]> = [
      ["cpu", `${c.manufacturer} ${c.brand}, ${c.physicalCores} physical / ${c.logicalCores} logical cores${c.speedGHz ? `, ${c.speedGHz} GHz` : ""}`],
      ["cpu flags", c.flags.join(" ") || "-"],
      ["caches", [c.cache.l1dBytes && `L1d ${formatBytes(c.cache.l1dBytes)}`, c.cache.l2Bytes && `L2 ${formatBytes(c.cache.l2Bytes)}`, c.cache.l3Bytes && `L3 ${formatBytes(c.cache.l3Bytes)}`].filter(Boolean).join(", ") || "-"],
      ["memory", `${formatBytes(h.memory.totalBytes)} total, ${formatBytes(h.memory.availableBytes)} available, swap ${formatBytes(h.memory.swapTotalBytes)}`],
      [
        "container",
        cg.version === undefined
          ? "no cgroup found"
          : `cgroup v${cg.version}: cpu ${cg.cpuLimit === undefined ? "unlimited" : `${cg.cpuLimit} CPUs`}, memory ${cg.memoryLimitBytes === undefined ? "unlimited" : formatBytes(cg.memoryLimitBytes)}`,
      ],
      ["gpus", h.gpus.length === 0 ? "none" : h.gpus.map((g) => `${g.vendor} ${g.model}${g.vramBytes ? ` (${formatBytes(g.vramBytes)})` : ""}`).join("; ")],
      ["llama gpu types", h.llamaGpuTypes.join(", ") || "none (CPU only)"],
      ["disks", h.disks.map((d) => `${d.mount} ${formatBytes(d.availableBytes)} free of ${formatBytes(d.sizeBytes)}`).join("; ") || "-"],
      ["os", `${h.os.distro} ${h.os.release}, kernel ${h.os.kernel}, ${h.os.arch}`],
      ["node", `${h.runtime.node} (V8 ${h.runtime.v8}), tunebench ${h.runtime.tunebench}, node-llama-cpp ${h.runtime.nodeLlamaCpp}`],
      ["backend", backend],
      ["local build", local],
    ];
    const width = Math.max(...rows.map((r) => r[0].length));
    process.stdout.write(rows.map(([k, v]) => `${k.padEnd(width)}  ${v}`).join("\n") + "\n");
  },
};
