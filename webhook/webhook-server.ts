// The HTTPS listener: TLS only, timeouts that shed slow clients, and a graceful stop.
import { once } from 'node:events';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { RequestListener } from 'node:http';

/** The webhook cannot start as configured; the message says what to change. */
export class WebhookStartError extends Error {
  readonly reason = 'WebhookStartFailed';
  override readonly name = 'WebhookStartError';
}

export interface ServingCertificate {
  readonly cert: string;
  readonly key: string;
}

export interface ListenAddress {
  readonly host: string;
  readonly port: number;
}

/** `0.0.0.0:9443`, `127.0.0.1:19443`, `[::1]:9443` or `:9443`; undefined when it is none of those. */
export function parseListenAddress(text: string): ListenAddress | undefined {
  const match = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]]*)):(\d{1,5})$/.exec(text);
  const port = Number(match?.[3]);
  if (!match || !Number.isInteger(port) || port < 0 || port > 65535) return undefined;
  return { host: match[1] ?? (match[2] || '0.0.0.0'), port };
}

export interface ServerTimeouts {
  /** Headers must arrive within this, and the whole request within requestMs. */
  readonly headersMs: number;
  readonly requestMs: number;
  /** How often Node checks those two; they are only as exact as this. */
  readonly checkEveryMs: number;
  readonly keepAliveMs: number;
}

export const DEFAULT_TIMEOUTS: ServerTimeouts = {
  // A client that trickles bytes (slowloris) gets 408 and its socket back, instead of holding one forever.
  headersMs: 10_000,
  requestMs: 15_000,
  // Node's default is 30 s, which would let a slow client hold a socket for up to 40 s.
  checkEveryMs: 1_000,
  // Longer than the idle timeout of Go's HTTP client in the API server (90 s), so the server is
  // never the side that closes a connection just as a review is sent down it.
  keepAliveMs: 120_000,
};

export async function listenHttps(
  handler: RequestListener,
  address: ListenAddress,
  certificate: ServingCertificate,
  timeouts: ServerTimeouts = DEFAULT_TIMEOUTS,
): Promise<Server> {
  const server = createServer(
    { ...certificate, minVersion: 'TLSv1.2', connectionsCheckingInterval: timeouts.checkEveryMs },
    handler,
  );
  server.headersTimeout = timeouts.headersMs;
  server.requestTimeout = timeouts.requestMs;
  server.keepAliveTimeout = timeouts.keepAliveMs;
  server.listen(address.port, address.host);
  try {
    await once(server, 'listening');
  } catch (err) {
    const detail = err instanceof Error ? err.message : String(err);
    throw new WebhookStartError(
      `cannot listen on ${address.host}:${address.port}: ${detail}; choose another --listen`,
      {
        cause: err,
      },
    );
  }
  return server;
}

export function boundPort(server: Server): number {
  return (server.address() as AddressInfo).port;
}

/** Stops accepting, lets answers in flight finish, then drops keep-alive connections as they go idle. */
export async function closeGracefully(server: Server, deadlineMs = 10_000): Promise<void> {
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  // A connection that was busy when closing began goes idle once its answer is out: close it then.
  const sweep = setInterval(() => server.closeIdleConnections(), 50);
  server.closeIdleConnections();
  const deadline = setTimeout(() => server.closeAllConnections(), deadlineMs);
  await closed;
  clearInterval(sweep);
  clearTimeout(deadline);
}
