// What the real mariadb client sends a server that switches it to the `dialog` plugin, which
// answers a "password" question with the password itself: seen by a fake server on loopback.
// Without spec.credentials.tls the tools may load no client plugin, so the question goes
// unanswered; mysql_native_password still works (the stack's e2e tests log in with it).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createServer, type AddressInfo, type Socket } from 'node:net';
import { staticInstances } from '../../../runner/engine/instance-list.js';
import { clientArgs, findClient, toolEnv } from '../../../runner/engine/tool-commands.js';
import { withToolOptions } from '../../../runner/engine/tool-options.js';

const PASSWORD = 'dialog-fake-server-pw-77';

function packet(seq: number, payload: Buffer): Buffer {
  const head = Buffer.alloc(4);
  head.writeUIntLE(payload.length, 0, 3);
  head[3] = seq;
  return Buffer.concat([head, payload]);
}

function handshake(): Buffer {
  const caps = 0x1 | 0x200 | 0x8000 | 0x80000; // long password, protocol 41, secure connection, plugin auth
  const lower = Buffer.alloc(2);
  lower.writeUInt16LE(caps & 0xffff);
  const upper = Buffer.alloc(2);
  upper.writeUInt16LE(caps >>> 16);
  return Buffer.concat([
    Buffer.from([10]),
    Buffer.from('10.11.19-MariaDB-fake\0'),
    Buffer.from([1, 0, 0, 0]),
    Buffer.from('abcdefgh'),
    Buffer.from([0]),
    lower,
    Buffer.from([0x21, 2, 0]),
    upper,
    Buffer.from([21]),
    Buffer.alloc(10),
    Buffer.from('ijklmnopqrst\0'),
    Buffer.from('mysql_native_password\0'),
  ]);
}

// The dialog protocol's first byte: a password question (2 << 1), and the last one (| 1).
const LAST_PASSWORD_QUESTION = 5;

/** Greets, then switches the client to `dialog` with its last question, a "password" one. */
async function dialogServer(): Promise<{ port: number; received: Buffer[]; close: () => Promise<void> }> {
  const received: Buffer[] = [];
  const sockets: Socket[] = [];
  const server = createServer((socket) => {
    sockets.push(socket);
    socket.on('error', () => undefined);
    socket.write(packet(0, handshake()));
    let pending = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => {
      pending = Buffer.concat([pending, chunk]);
      while (pending.length >= 4 && pending.length >= 4 + pending.readUIntLE(0, 3)) {
        const len = pending.readUIntLE(0, 3);
        const seq = pending[3] ?? 0;
        received.push(Buffer.from(pending.subarray(4, 4 + len)));
        pending = pending.subarray(4 + len);
        if (received.length === 1) {
          const question = Buffer.concat([
            Buffer.from([0xfe]),
            Buffer.from('dialog\0'),
            Buffer.from([LAST_PASSWORD_QUESTION]),
            Buffer.from('Password: '),
          ]);
          socket.write(packet(seq + 1, question));
        } else socket.destroy();
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    received,
    close: () => {
      sockets.forEach((s) => s.destroy());
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

describe('tool auth safety (real mariadb client, fake server)', () => {
  it('a server that switches the client to dialog without TLS does not get the password', async function () {
    this.timeout(20_000);
    const binary = findClient('mariadb'); // fails naming the client when it is not installed
    const server = await dialogServer();
    try {
      const [instance] = staticInstances([{ name: 'fake', host: '127.0.0.1', port: server.port }]);
      await withToolOptions({ user: 'lifeboat', password: PASSWORD }, async (options) => {
        const args = clientArgs({ engine: 'mariadb', instance: instance!, user: 'lifeboat', options });
        const child = spawn(binary, [...args, '--connect-timeout=5'], {
          env: toolEnv(),
          stdio: ['ignore', 'ignore', 'pipe'],
        });
        const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
        assert.notEqual(code, 0);
      });
      assert.ok(server.received.length >= 1, 'the client never answered the greeting');
      const sent = Buffer.concat(server.received);
      assert.ok(
        !sent.includes(Buffer.from(PASSWORD)),
        'the client sent the password in the clear to the dialog question',
      );
    } finally {
      await server.close();
    }
  });
});
