// The HTTPS listener: what --listen accepts, what a taken port says, and how a stop treats the
// connections it finds.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import https from 'node:https';
import net from 'node:net';
import type { Socket } from 'node:net';
import { generateSelfSigned, type TlsBundle } from '../../webhook/self-signed-ca.js';
import {
  boundPort,
  closeGracefully,
  listenHttps,
  parseListenAddress,
  WebhookStartError,
} from '../../webhook/webhook-server.js';

interface Reply {
  readonly status: number;
  readonly body: string;
  readonly socket: Socket;
}

function get(port: number, path: string, agent: https.Agent, ca: string): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = https.request({ host: '127.0.0.1', port, path, agent, ca }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, socket: req.socket as Socket }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** Settles with `promise`, or fails naming what did not happen within `ms`. */
async function within<T>(ms: number, what: string, promise: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not happen within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, late]);
  } finally {
    clearTimeout(timer);
  }
}

describe('webhook server', () => {
  describe('parseListenAddress', () => {
    const good: [string, { host: string; port: number }][] = [
      ['0.0.0.0:9443', { host: '0.0.0.0', port: 9443 }],
      [':9443', { host: '0.0.0.0', port: 9443 }],
      ['[::1]:9443', { host: '::1', port: 9443 }],
      ['127.0.0.1:19443', { host: '127.0.0.1', port: 19443 }],
      ['localhost:0', { host: 'localhost', port: 0 }],
    ];
    for (const [text, address] of good) {
      it(`reads ${text}`, () => assert.deepEqual(parseListenAddress(text), address));
    }
    for (const text of ['9443', 'host:99999', 'a:b:c', '::1:9443', '[::1]', 'host:', '[not-an-ip]:9443', '']) {
      it(`refuses ${JSON.stringify(text)}`, () => assert.equal(parseListenAddress(text), undefined));
    }
  });

  describe('listenHttps and closeGracefully', () => {
    let bundle: TlsBundle;

    before(() => {
      bundle = generateSelfSigned(['127.0.0.1']);
    });

    it('a port already taken: WebhookStartError naming the address and --listen', async () => {
      const taken = net.createServer();
      taken.listen(0, '127.0.0.1');
      await once(taken, 'listening');
      const port = (taken.address() as net.AddressInfo).port;
      try {
        await assert.rejects(
          listenHttps(() => undefined, { host: '127.0.0.1', port }, bundle),
          (err: unknown) => {
            assert.ok(err instanceof WebhookStartError, `not a WebhookStartError: ${String(err)}`);
            assert.equal(err.reason, 'WebhookStartFailed');
            assert.match(err.message, new RegExp(`^cannot listen on 127\\.0\\.0\\.1:${port}: .*EADDRINUSE`));
            assert.match(err.message, /choose another --listen$/);
            return true;
          },
        );
      } finally {
        taken.close();
      }
    });

    /** A server whose /slow answers only when released, with one idle keep-alive socket and one request in flight. */
    async function busyServer() {
      let release: (() => void) | undefined;
      const server = await listenHttps(
        (req, res) => {
          if (req.url === '/slow') release = () => res.end('slow answer');
          else res.end('fast answer');
        },
        { host: '127.0.0.1', port: 0 },
        bundle,
      );
      const port = boundPort(server);
      // Two agents, so the request in flight does not take the idle socket.
      const agents = [new https.Agent({ keepAlive: true }), new https.Agent({ keepAlive: true })] as const;
      const idle = await get(port, '/fast', agents[0], bundle.caCert);
      assert.equal(idle.body, 'fast answer');
      const slow = get(port, '/slow', agents[1], bundle.caCert);
      await within(5_000, 'the slow request arriving', once(server, 'request'));
      assert.notEqual(release, undefined);
      const destroy = (): void => agents.forEach((a) => a.destroy());
      return { server, port, destroy, idle: idle.socket, slow, release: () => release?.() };
    }

    it('lets the answer in flight finish, drops the idle keep-alive socket, and refuses new connections', async () => {
      const { server, port, destroy, idle, slow, release } = await busyServer();
      try {
        assert.equal(idle.destroyed, false, 'the first socket is idle, kept alive');
        const closing = closeGracefully(server, 1_000);
        await within(
          2_000,
          'the idle socket closing',
          idle.destroyed ? Promise.resolve() : once(idle, 'close').then(() => undefined),
        );
        await assert.rejects(get(port, '/fast', new https.Agent(), bundle.caCert), { code: 'ECONNREFUSED' });
        release();
        const answer = await slow;
        assert.deepEqual([answer.status, answer.body], [200, 'slow answer']);
        await within(3_000, 'closeGracefully resolving', closing);
      } finally {
        destroy();
        server.closeAllConnections();
      }
    });

    it('returns soon after the last answer in flight is sent, not at the deadline', async () => {
      const { server, destroy, slow, release } = await busyServer();
      try {
        const closing = closeGracefully(server, 10_000);
        release();
        await slow;
        const answered = Date.now();
        await closing;
        const after = Date.now() - answered;
        assert.ok(after < 1_000, `closeGracefully returned ${after} ms after the last answer was sent`);
      } finally {
        destroy();
        server.closeAllConnections();
      }
    }).timeout(15_000);
  });
});
