// A TCP relay in the test process between a backup worker and the real MinIO, so a test can stall
// an upload at a chosen byte count (to stop the worker mid-upload), cut every connection (the
// object store dropping mid-upload) or one download mid-way (the store dropping a reader), or
// before a database, to see what a client sent it. Bytes pass through untouched.
import { connect, createServer, type Server, type Socket } from 'node:net';

export interface ProxyOptions {
  readonly targetHost: string;
  readonly targetPort: number;
  /** Once this many bytes went towards the target, stall the connections carrying them. */
  readonly stallAfterBytes?: number;
  /** Once this many bytes went towards the target, close every connection and refuse new ones… */
  readonly dropAfterBytes?: number;
  /** …for this long (an outage, after which the store answers again). */
  readonly dropForMs?: number;
  /**
   * Once this many bytes came back from the target on one connection, close that connection: the
   * store dropping a download mid-way. For the first `cutReplies` (default 1) such connections;
   * later ones pass untouched.
   */
  readonly cutReplyAfterBytes?: number;
  readonly cutReplies?: number;
  /** Keep every byte sent towards the target, for clientBytes (a test of what a client revealed). */
  readonly record?: boolean;
}

export class TcpProxy {
  private readonly server: Server;
  private readonly sockets = new Set<Socket>();
  private sent = 0;
  private droppedUntil = 0;
  private stalled = false;
  private readonly recorded: Buffer[] = [];
  private accepted = 0;
  private cut = 0;
  /** Resolves when a stall or drop has happened. */
  readonly tripped: Promise<'stalled' | 'dropped'>;
  private trip!: (what: 'stalled' | 'dropped') => void;

  private constructor(private readonly options: ProxyOptions) {
    this.tripped = new Promise((resolve) => (this.trip = resolve));
    this.server = createServer((client) => this.relay(client));
  }

  static async start(options: ProxyOptions): Promise<TcpProxy> {
    const proxy = new TcpProxy(options);
    await new Promise<void>((resolve) => proxy.server.listen(0, '127.0.0.1', resolve));
    return proxy;
  }

  get port(): number {
    const address = this.server.address();
    return typeof address === 'object' && address ? address.port : 0;
  }

  get bytesSent(): number {
    return this.sent;
  }

  /** Downloads closed mid-way by cutReplyAfterBytes so far. */
  get repliesCut(): number {
    return this.cut;
  }

  /** Connections relayed so far. */
  get connections(): number {
    return this.accepted;
  }

  /** Every byte sent towards the target so far, across connections (with `record`). */
  get clientBytes(): Buffer {
    return Buffer.concat(this.recorded);
  }

  private relay(client: Socket): void {
    this.accepted++;
    if (Date.now() < this.droppedUntil) {
      client.destroy();
      return;
    }
    const upstream = connect(this.options.targetPort, this.options.targetHost);
    for (const s of [client, upstream]) {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
      s.on('error', () => undefined);
    }
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
    if (this.options.cutReplyAfterBytes === undefined) upstream.pipe(client);
    else this.relayReply(upstream, client, this.options.cutReplyAfterBytes);
    client.on('data', (chunk: Buffer) => this.forward(client, upstream, chunk));
  }

  /** The target's reply, passed on until `limit` bytes, then (once) both ends closed. */
  private relayReply(upstream: Socket, client: Socket, limit: number): void {
    let replied = 0;
    client.on('drain', () => upstream.resume());
    upstream.on('data', (chunk: Buffer) => {
      const cut = this.cut < (this.options.cutReplies ?? 1) && replied + chunk.length >= limit;
      const part = cut ? chunk.subarray(0, limit - replied) : chunk;
      replied += part.length;
      const more = client.write(part);
      if (cut) {
        this.cut++;
        client.end(() => client.destroy());
        upstream.destroy();
        this.trip('dropped');
      } else if (!more) upstream.pause();
    });
  }

  private forward(client: Socket, upstream: Socket, chunk: Buffer): void {
    this.sent += chunk.length;
    if (this.options.record) this.recorded.push(Buffer.from(chunk));
    const { stallAfterBytes, dropAfterBytes } = this.options;
    if (dropAfterBytes !== undefined && this.droppedUntil === 0 && this.sent >= dropAfterBytes) {
      this.dropAll();
      return;
    }
    upstream.write(chunk);
    if (stallAfterBytes !== undefined && !this.stalled && this.sent >= stallAfterBytes) {
      // Stops reading this connection: its request stays open, the sender's buffers fill up. Once
      // only, so the worker's later requests (aborting the upload) go through.
      this.stalled = true;
      client.pause();
      this.trip('stalled');
    }
  }

  private dropAll(): void {
    this.droppedUntil = Date.now() + (this.options.dropForMs ?? Number.POSITIVE_INFINITY);
    for (const s of this.sockets) s.destroy();
    this.trip('dropped');
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
