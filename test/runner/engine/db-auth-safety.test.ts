// What mysql2 sends a server it cannot trust, seen by a fake server on loopback that speaks just
// enough of the protocol: the handshake, then whatever the test wants the server to ask for.
import assert from 'node:assert/strict';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { connectInstance, type DbCredentials } from '../../../runner/engine/db-connection.js';
import { staticInstances, type DbInstance } from '../../../runner/engine/instance-list.js';
import { ConnectionFailedError } from '../../../runner/work-failures.js';

const PASSWORD = 'fake-server-pw-4242';

const CLIENT_LONG_PASSWORD = 0x1;
const CLIENT_PROTOCOL_41 = 0x200;
const CLIENT_SSL = 0x800;
const CLIENT_SECURE_CONNECTION = 0x8000;
const CLIENT_PLUGIN_AUTH = 0x80000;

function packet(seq: number, payload: Buffer): Buffer {
  const head = Buffer.alloc(4);
  head.writeUIntLE(payload.length, 0, 3);
  head[3] = seq;
  return Buffer.concat([head, payload]);
}

/** A protocol-10 handshake offering `plugin`, with or without TLS. */
function handshake(plugin: string, tls: boolean): Buffer {
  const caps =
    CLIENT_LONG_PASSWORD | CLIENT_PROTOCOL_41 | CLIENT_SECURE_CONNECTION | CLIENT_PLUGIN_AUTH | (tls ? CLIENT_SSL : 0);
  const lower = Buffer.alloc(2);
  lower.writeUInt16LE(caps & 0xffff);
  const upper = Buffer.alloc(2);
  upper.writeUInt16LE(caps >>> 16);
  return Buffer.concat([
    Buffer.from([10]),
    Buffer.from('8.0.36-fake\0'),
    Buffer.from([1, 0, 0, 0]),
    Buffer.from('abcdefgh'), // scramble, first 8 bytes
    Buffer.from([0]),
    lower,
    Buffer.from([0x21, 2, 0]), // charset, status
    upper,
    Buffer.from([21]),
    Buffer.alloc(10),
    Buffer.from('ijklmnopqrst\0'), // scramble, last 12 bytes
    Buffer.from(`${plugin}\0`),
  ]);
}

interface FakeServer {
  readonly instance: DbInstance;
  /** The payloads the client sent, in order. */
  readonly received: Buffer[];
  close(): Promise<void>;
}

/**
 * Sends the handshake; to every client packet answers with `reply(n)` (n = packets so far), or
 * closes the connection when it returns undefined.
 */
async function fakeServer(
  greeting: Buffer,
  reply: (n: number, got: Buffer) => Buffer | undefined,
): Promise<FakeServer> {
  const received: Buffer[] = [];
  const sockets: Socket[] = [];
  const server: Server = createServer((socket) => {
    sockets.push(socket);
    let pending = Buffer.alloc(0);
    socket.write(packet(0, greeting));
    socket.on('data', (chunk: Buffer) => {
      pending = Buffer.concat([pending, chunk]);
      while (pending.length >= 4) {
        const len = pending.readUIntLE(0, 3);
        if (pending.length < 4 + len) return;
        const seq = pending[3] ?? 0;
        const payload = pending.subarray(4, 4 + len);
        pending = pending.subarray(4 + len);
        received.push(Buffer.from(payload));
        const answer = reply(received.length, payload);
        if (answer) socket.write(packet(seq + 1, answer));
        else socket.destroy();
      }
    });
    socket.on('error', () => undefined);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const [instance] = staticInstances([{ name: 'fake', host: '127.0.0.1', port }]);
  return {
    instance: instance!,
    received,
    close: () => {
      sockets.forEach((s) => s.destroy());
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

const AUTH_SWITCH = 0xfe;
const MORE_DATA = 0x01;
const PERFORM_FULL_AUTH = 0x04;
const REQUEST_PUBLIC_KEY = 0x02;

function authSwitch(plugin: string): Buffer {
  return Buffer.concat([Buffer.from([AUTH_SWITCH]), Buffer.from(`${plugin}\0`), Buffer.from('abcdefghijklmnopqrst\0')]);
}

describe('db connection auth safety (fake server)', () => {
  const plain: DbCredentials = { user: 'lifeboat', password: PASSWORD };

  it("caching_sha2_password full authentication without TLS: the password is not sent under the server's RSA key", async () => {
    // Whatever the client answers first, the server switches to caching_sha2_password, then asks
    // for full authentication: a client that trusts it requests the server's public key next.
    const server = await fakeServer(handshake('caching_sha2_password', false), (n, got) => {
      if (n === 1) return authSwitch('caching_sha2_password');
      if (n === 2) return Buffer.from([MORE_DATA, PERFORM_FULL_AUTH]);
      return got.length === 1 && got[0] === REQUEST_PUBLIC_KEY ? undefined : undefined;
    });
    try {
      await assert.rejects(
        connectInstance(server.instance, plain, { connectTimeoutMs: 2000 }),
        (err: unknown) =>
          err instanceof ConnectionFailedError &&
          /Lifeboat did not send it; use an account with mysql_native_password, or set spec\.credentials\.tls/.test(
            err.message,
          ),
      );
      const keyRequests = server.received.filter((p) => p.length === 1 && p[0] === REQUEST_PUBLIC_KEY);
      assert.equal(keyRequests.length, 0, "the client asked for the server's RSA key to send the password under it");
      assert.ok(!server.received.some((p) => p.includes(Buffer.from(PASSWORD))), 'password sent in the clear');
    } finally {
      await server.close();
    }
  });

  it('sha256_password without TLS: refused before the password or a key request leaves', async () => {
    const server = await fakeServer(handshake('mysql_native_password', false), (n) =>
      n === 1 ? authSwitch('sha256_password') : undefined,
    );
    try {
      await assert.rejects(
        connectInstance(server.instance, plain, { connectTimeoutMs: 2000 }),
        (err: unknown) =>
          err instanceof ConnectionFailedError &&
          /Lifeboat did not send it; use an account with mysql_native_password, or set spec\.credentials\.tls/.test(
            err.message,
          ),
      );
      assert.equal(server.received.length, 1, 'the client answered the switch to sha256_password');
    } finally {
      await server.close();
    }
  });

  it('spec.credentials.tls and a server without TLS: refused before any credential leaves, naming the Cluster', async () => {
    const server = await fakeServer(handshake('mysql_native_password', false), () => undefined);
    // Declared wide so the test also compiles against a DbCredentials without tls.
    const withTls: DbCredentials & Record<string, unknown> = {
      ...plain,
      tls: { verify: true, cluster: 'shop' },
    };
    try {
      await assert.rejects(
        connectInstance(server.instance, withTls, { connectTimeoutMs: 2000 }),
        (err: unknown) =>
          err instanceof ConnectionFailedError &&
          /Cluster shop sets spec\.credentials\.tls but the server offers no TLS/.test(err.message),
      );
      assert.equal(server.received.length, 0, 'the client logged in without TLS');
    } finally {
      await server.close();
    }
  });
});
