import net from "node:net";

export interface LatencySetting {
  /** Added to every chunk in each direction, ms. */
  fixedMs: number;
  /** Extra uniform random delay in [0, jitterMs), ms. */
  jitterMs: number;
}

export interface FaultProxyOptions {
  /** Upstream host. */
  targetHost: string;
  targetPort: number;
  /** Where to listen. Default 127.0.0.1 and a free port. */
  host?: string;
  port?: number;
  latency?: LatencySetting;
}

export interface FaultProxyStats {
  connectionsAccepted: number;
  connectionsRefused: number;
  connectionsCut: number;
  bytesUp: number;
  bytesDown: number;
}

/**
 * A TCP proxy with faults under program control: added latency (fixed plus
 * jitter, order kept per direction), cutting every connection, refusing new ones
 * (the listener closes: clients get ECONNREFUSED), and healing. At zero latency it
 * pipes sockets directly, adding nothing but one loopback hop.
 */
export class FaultProxy {
  readonly stats: FaultProxyStats = { connectionsAccepted: 0, connectionsRefused: 0, connectionsCut: 0, bytesUp: 0, bytesDown: 0 };
  private server: net.Server | undefined;
  private readonly sockets = new Set<net.Socket>();
  private latency: LatencySetting;
  private refusing = false;
  private boundPort = 0;
  private readonly host: string;

  constructor(private readonly options: FaultProxyOptions) {
    this.latency = options.latency ?? { fixedMs: 0, jitterMs: 0 };
    this.host = options.host ?? "127.0.0.1";
  }

  get port(): number {
    return this.boundPort;
  }

  get url(): string {
    return `redis://${this.host}:${this.boundPort}`;
  }

  /** Open client connections. */
  get connections(): number {
    return this.sockets.size / 2;
  }

  async start(): Promise<this> {
    await this.listen(this.options.port ?? 0);
    return this;
  }

  private listen(port: number): Promise<void> {
    const server = net.createServer((client) => this.accept(client));
    this.server = server;
    return new Promise((resolve, reject) => {
      server.once("error", reject);
      server.listen(port, this.host, () => {
        server.off("error", reject);
        this.boundPort = (server.address() as net.AddressInfo).port;
        resolve();
      });
    });
  }

  /** Latency from now on, for new and open connections. */
  setLatency(latency: LatencySetting): void {
    this.latency = { ...latency };
  }

  /** Destroys every open connection (both sides see a reset). */
  cut(): void {
    for (const s of this.sockets) s.destroy();
    this.stats.connectionsCut += this.sockets.size / 2;
    this.sockets.clear();
  }

  /** Stops accepting: new connections are refused until `heal`. Open ones stay unless cut. */
  async refuse(): Promise<void> {
    if (this.refusing) return;
    this.refusing = true;
    const server = this.server;
    this.server = undefined;
    if (server) await new Promise<void>((r) => server.close(() => r()));
  }

  /** Back to normal: accepting, no latency. */
  async heal(): Promise<void> {
    this.latency = { fixedMs: 0, jitterMs: 0 };
    if (this.refusing) {
      this.refusing = false;
      await this.listen(this.boundPort);
    }
  }

  async stop(): Promise<void> {
    this.cut();
    const server = this.server;
    this.server = undefined;
    if (server) await new Promise<void>((r) => server.close(() => r()));
  }

  private accept(client: net.Socket): void {
    if (this.refusing) {
      this.stats.connectionsRefused++;
      client.destroy();
      return;
    }
    this.stats.connectionsAccepted++;
    client.setNoDelay(true);
    const upstream = net.connect({ host: this.options.targetHost, port: this.options.targetPort });
    upstream.setNoDelay(true);
    this.sockets.add(client);
    this.sockets.add(upstream);
    const close = (): void => {
      this.sockets.delete(client);
      this.sockets.delete(upstream);
      client.destroy();
      upstream.destroy();
    };
    client.on("error", close);
    upstream.on("error", close);
    client.on("close", close);
    upstream.on("close", close);
    this.forward(client, upstream, "bytesUp");
    this.forward(upstream, client, "bytesDown");
  }

  /**
   * Copies `from` to `to`, delaying each chunk by the current latency while keeping
   * order: the chunks wait in one queue per direction, released by one timer in
   * arrival order (a timer per chunk could fire out of order: Node rounds each
   * timer's delay to whole milliseconds from its own start).
   */
  private forward(from: net.Socket, to: net.Socket, counter: "bytesUp" | "bytesDown"): void {
    const queue: Array<{ at: number; chunk: Buffer }> = [];
    let timer: NodeJS.Timeout | undefined;
    const release = (): void => {
      timer = undefined;
      const now = performance.now();
      while (queue.length > 0 && queue[0]!.at <= now) {
        const { chunk } = queue.shift()!;
        if (!to.destroyed) to.write(chunk);
      }
      if (queue.length > 0) timer = setTimeout(release, Math.max(1, Math.ceil(queue[0]!.at - now)));
    };
    from.on("data", (chunk: Buffer) => {
      this.stats[counter] += chunk.length;
      const { fixedMs, jitterMs } = this.latency;
      if (fixedMs <= 0 && jitterMs <= 0 && queue.length === 0) {
        if (!to.destroyed) to.write(chunk);
        return;
      }
      const now = performance.now();
      // never release before an earlier chunk: TCP is a stream
      const at = Math.max(now + fixedMs + Math.random() * jitterMs, queue.at(-1)?.at ?? 0);
      queue.push({ at, chunk });
      if (timer === undefined) timer = setTimeout(release, Math.max(1, Math.ceil(at - now)));
    });
  }
}
