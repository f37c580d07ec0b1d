// A fake Kubernetes API server on loopback (plain HTTP, or HTTPS with a given certificate) for the
// client tests: it records each request and answers with the first route whose prefix matches.
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { KubeConfig } from '@kubernetes/client-node';
import { KubeClient } from '../../lib/kube-client.js';
import type { KubeConnection } from '../../lib/kube-connection.js';
import type { KubeApiError } from '../../lib/kube-errors.js';
import { KubeRestClient } from '../../lib/kube-rest.js';

export interface Seen {
  readonly method: string;
  readonly url: string;
  readonly contentType: string;
  readonly authorization: string | undefined;
  /** Whether the client showed a certificate (HTTPS only). */
  readonly clientCertificate: boolean;
  readonly body: unknown;
}

export type Answer = (req: Seen, res: ServerResponse) => void;

export interface FakeTls {
  readonly cert: string;
  readonly key: string;
}

export class FakeApiServer {
  readonly seen: Seen[] = [];
  readonly routes: [string, Answer][] = [];
  private server: Server | undefined;

  /** Starts listening; returns the server's URL. */
  async listen(tls?: FakeTls): Promise<string> {
    const handler = (req: IncomingMessage, res: ServerResponse): void => void this.handle(req, res);
    // The client certificate is asked for, not checked: the tests look at whether one came.
    this.server = tls
      ? createHttpsServer({ ...tls, requestCert: true, rejectUnauthorized: false }, handler)
      : createHttpServer(handler);
    await new Promise<void>((resolve) => this.server?.listen(0, '127.0.0.1', resolve));
    const { port } = this.server.address() as AddressInfo;
    return `${tls ? 'https' : 'http'}://127.0.0.1:${port}`;
  }

  stop(): Promise<void> {
    this.server?.closeAllConnections();
    return new Promise((resolve) => this.server?.close(() => resolve()));
  }

  on(prefix: string, answer: Answer): void {
    this.routes.push([prefix, answer]);
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    let text = '';
    for await (const chunk of req) text += String(chunk);
    const socket = req.socket as Partial<TLSSocket>;
    const seen = {
      method: req.method ?? '',
      url: req.url ?? '',
      contentType: req.headers['content-type'] ?? '',
      authorization: req.headers.authorization,
      clientCertificate: Object.keys(socket.getPeerCertificate?.() ?? {}).length > 0,
      body: text ? (JSON.parse(text) as unknown) : undefined,
    };
    this.seen.push(seen);
    const route = this.routes.find(([prefix]) => `${seen.method} ${seen.url}`.startsWith(prefix));
    if (route) route[1](seen, res);
    else json(res, 404, { kind: 'Status', code: 404, message: `${seen.url} not found` });
  }
}

export function json(res: ServerResponse, code: number, body: unknown): void {
  res.writeHead(code, { 'content-type': 'application/json' }).end(JSON.stringify(body));
}

/** The full client (client-node) for a fake server's URL, writing as field manager `lifeboat-test`. */
export function kubeClientFor(url: string, options: { timeoutMs?: number } = {}): KubeClient {
  const config = new KubeConfig();
  config.loadFromOptions({
    clusters: [{ name: 'fake', server: url, skipTLSVerify: true }],
    users: [{ name: 'fake' }],
    contexts: [{ name: 'fake', cluster: 'fake', user: 'fake' }],
    currentContext: 'fake',
  });
  return new KubeClient(config, { fieldManager: 'lifeboat-test', ...options });
}

/** The light transport to the fake server, as the runner and the worker make it. */
export function restClientFor(server: string, more: Partial<KubeConnection> = {}): KubeRestClient {
  return new KubeRestClient(
    { server, insecureSkipTlsVerify: false, source: 'the test', ...more },
    { fieldManager: 'lifeboat-test', timeoutMs: 2_000 },
  );
}

/** What a call gave: its result as JSON, or its error's class, code and message. */
export async function outcome(call: Promise<unknown>): Promise<unknown> {
  try {
    return { result: JSON.parse(JSON.stringify((await call) ?? null)) as unknown };
  } catch (err) {
    const e = err as KubeApiError;
    return { error: e.constructor.name, code: e.code, message: e.message };
  }
}
