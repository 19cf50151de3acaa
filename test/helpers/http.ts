import type http from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll } from "vitest";

/**
 * Serves `server` on a free loopback port for the test file (started before
 * its tests, closed after them, open connections too); the returned function
 * gives its base URL once it listens.
 */
export function serveForTests(server: http.Server): () => string {
  let base = "";
  beforeAll(async () => {
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  });
  return () => base;
}
