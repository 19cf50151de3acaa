import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";

/** A free TCP port on 127.0.0.1. */
export async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as net.AddressInfo).port;
  await new Promise((r) => server.close(r));
  return port;
}

export interface PrivateRedis {
  port: number;
  /** With TLS: the CA file that signed its certificate. */
  caFile?: string;
  stop(): void;
}

/**
 * A Redis server of the test's own (Debian's redis-server, which the machine
 * has), with a password and optionally TLS with a private CA; stopped after the
 * test's call of `stop`. It keeps nothing on disk.
 */
export async function privateRedis(options: { password: string; tls?: boolean }): Promise<PrivateRedis> {
  const dir = mkdtempSync(path.join(os.tmpdir(), "tunebench-redis-"));
  const port = await freePort();
  const args = ["--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", dir, "--requirepass", options.password];
  let caFile: string | undefined;
  if (options.tls) {
    const run = (cmd: string[]): void => {
      const res = spawnSync("openssl", cmd, { cwd: dir, encoding: "utf8" });
      if (res.status !== 0) throw new Error(`openssl ${cmd[0]} failed: ${res.stderr}`);
    };
    run(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.crt", "-days", "2", "-subj", "/CN=tunebench-test-ca"]);
    run(["req", "-newkey", "rsa:2048", "-nodes", "-keyout", "srv.key", "-out", "srv.csr", "-subj", "/CN=127.0.0.1"]);
    writeFileSync(path.join(dir, "ext.cnf"), "subjectAltName=IP:127.0.0.1\n");
    run(["x509", "-req", "-in", "srv.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial", "-out", "srv.crt", "-days", "2", "-extfile", "ext.cnf"]);
    caFile = path.join(dir, "ca.crt");
    args.push("--port", "0", "--tls-port", String(port), "--tls-cert-file", "srv.crt", "--tls-key-file", "srv.key", "--tls-ca-cert-file", "ca.crt", "--tls-auth-clients", "no");
  } else {
    args.push("--port", String(port));
  }
  const child: ChildProcess = spawn("redis-server", args, { cwd: dir, stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  child.stdout!.on("data", (b: Buffer) => (out += b.toString()));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`redis-server did not start: ${out}`)), 10_000);
    const check = setInterval(() => {
      if (/Ready to accept connections/.test(out)) {
        clearInterval(check);
        clearTimeout(timer);
        resolve();
      }
    }, 50);
    child.once("exit", (code) => reject(new Error(`redis-server exited (${code}): ${out}`)));
  });
  const stop = (): void => {
    child.kill("SIGKILL");
    rmSync(dir, { recursive: true, force: true });
  };
  return { port, ...(caFile ? { caFile } : {}), stop };
}
