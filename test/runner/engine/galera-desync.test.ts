// withDesync always puts the member back and waits for Synced: after success, failure and abort.
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import type { SqlConnection, SqlRow } from '../../../runner/engine/db-connection.js';
import { withDesync } from '../../../runner/engine/galera-desync.js';
import { ConnectionFailedError, TimeoutError, UploadFailedError } from '../../../runner/work-failures.js';

/** A Galera member in memory: wsrep_desync, and a state that reaches Synced `lag` polls after OFF. */
class FakeMember {
  first: unknown;
  pollsLeft = 0;
  desync = false;
  state = 'Synced';
  statements: string[] = [];
  pollsUntilSynced = 0;
  broken = false;
  neverSyncs = false;
  refuseDesync = false;

  connection(): SqlConnection & { closed: boolean } {
    const conn = {
      closed: false,
      query: (sql: string): Promise<SqlRow[]> => this.query(sql, conn),
      close(): Promise<void> {
        conn.closed = true;
        return Promise.resolve();
      },
    };
    return conn;
  }

  async query(sql: string, conn: { closed: boolean }): Promise<SqlRow[]> {
    await Promise.resolve();
    if (conn.closed || (this.broken && conn === this.first))
      throw new Error('Connection lost: The server closed the connection.');
    this.statements.push(sql);
    if (sql.startsWith('SELECT @@global.wsrep_desync')) return [{ desync: this.desync ? 1 : 0 }];
    if (sql === 'SET GLOBAL wsrep_desync=ON') {
      if (this.refuseDesync) throw new Error('Access denied; you need (at least one of) the SUPER privilege(s)');
      this.desync = true;
      this.state = 'Donor/Desynced';
    } else if (sql === 'SET GLOBAL wsrep_desync=OFF') {
      this.desync = false;
      this.pollsLeft = this.pollsUntilSynced;
      if (this.pollsLeft === 0 && !this.neverSyncs) this.state = 'Synced';
    } else if (sql.includes('wsrep_local_state_comment')) {
      if (!this.desync && !this.neverSyncs && this.pollsLeft-- <= 0) this.state = 'Synced';
      else if (!this.desync) this.state = 'Joined';
      return [{ Variable_name: 'wsrep_local_state_comment', Value: this.state }];
    }
    return [];
  }
}

function member(setup: Partial<FakeMember> = {}): { m: FakeMember; conn: SqlConnection & { closed: boolean } } {
  const m = Object.assign(new FakeMember(), setup);
  const conn = m.connection();
  m.first = conn;
  return { m, conn };
}

const fast = { pollMs: 1, instanceName: 'node3' };

describe('withDesync (fake connection)', () => {
  it('desyncs for fn, then OFF and waits until Synced; returns fn’s value', async () => {
    const { m, conn } = member({ pollsUntilSynced: 3 });
    const got = await withDesync(
      conn,
      async () => {
        assert.equal(m.desync, true);
        assert.equal(m.state, 'Donor/Desynced');
        return 42;
      },
      fast,
    );
    assert.equal(got, 42);
    assert.equal(m.desync, false);
    assert.equal(m.state, 'Synced');
    assert.ok(m.statements.filter((s) => s.includes('wsrep_local_state_comment')).length >= 3, 'waited');
  });

  it('fn throws: restores and waits, then rethrows fn’s error unchanged', async () => {
    const { m, conn } = member({ pollsUntilSynced: 2 });
    const boom = new UploadFailedError('bucket gone');
    await assert.rejects(
      withDesync(conn, () => Promise.reject(boom), fast),
      (err: unknown) => err === boom,
    );
    assert.equal(m.desync, false);
    assert.equal(m.state, 'Synced');
  });

  it('abort: restores at once without waiting for fn, and throws the abort reason', async () => {
    const { m, conn } = member();
    const controller = new AbortController();
    const stopFn = new AbortController();
    let fnFinished = false;
    const run = withDesync(
      conn,
      async () => {
        await sleep(5_000, undefined, { signal: stopFn.signal });
        fnFinished = true;
      },
      { ...fast, signal: controller.signal },
    );
    await sleep(20);
    assert.equal(m.desync, true);
    const reason = new Error('SIGTERM');
    controller.abort(reason);
    await assert.rejects(run, (err: unknown) => err === reason);
    assert.equal(m.desync, false);
    assert.equal(m.state, 'Synced');
    assert.equal(fnFinished, false);
    stopFn.abort();
  });

  it('an already aborted signal: nothing is touched', async () => {
    const { m, conn } = member();
    const controller = new AbortController();
    controller.abort(new Error('gone'));
    await assert.rejects(
      withDesync(conn, () => Promise.resolve(1), { signal: controller.signal }),
      /gone/,
    );
    assert.deepEqual(m.statements, []);
  });

  it('a member already desynced by someone else is left as found', async () => {
    const { m, conn } = member({ desync: true, state: 'Donor/Desynced' });
    assert.equal(await withDesync(conn, () => Promise.resolve('ok'), fast), 'ok');
    assert.equal(m.desync, true);
    assert.ok(!m.statements.some((s) => s.startsWith('SET GLOBAL')));
  });

  it('says so before it desyncs and once the member is back; not at all for a member found desynced', async () => {
    const { m, conn } = member();
    const said: string[] = [];
    const record = {
      onDesync: async (): Promise<void> => void said.push(`before ON (desync=${String(m.desync)})`),
      onRestored: async (): Promise<void> => void said.push(`restored (desync=${String(m.desync)}, ${m.state})`),
    };
    await withDesync(conn, () => Promise.resolve(1), { ...fast, ...record });
    assert.deepEqual(said, ['before ON (desync=false)', 'restored (desync=false, Synced)']);
    said.length = 0;
    const found = member({ desync: true, state: 'Donor/Desynced' });
    await withDesync(found.conn, () => Promise.resolve(1), { ...fast, ...record });
    assert.deepEqual(said, []);
  });

  it('a failing record of the restore is only logged: the backup’s outcome stands', async () => {
    const { m, conn } = member();
    const got = await withDesync(conn, () => Promise.resolve('done'), {
      ...fast,
      onRestored: () => Promise.reject(new Error('API down')),
    });
    assert.equal(got, 'done');
    assert.equal(m.desync, false);
  });

  it('a failing record before ON: nothing is desynced, and the error comes back', async () => {
    const { m, conn } = member();
    await assert.rejects(
      withDesync(conn, () => Promise.resolve(1), {
        ...fast,
        onDesync: () => Promise.reject(new Error('no longer running')),
      }),
      /no longer running/,
    );
    assert.ok(!m.statements.includes('SET GLOBAL wsrep_desync=ON'));
    assert.equal(m.desync, false);
  });

  it('no SUPER: ConnectionFailed saying what to grant, and OFF is still attempted', async () => {
    const { m, conn } = member({ refuseDesync: true });
    await assert.rejects(
      withDesync(conn, () => Promise.resolve(1), fast),
      (err: unknown) => err instanceof ConnectionFailedError && /needs SUPER .* spec.target: primary/.test(err.message),
    );
    assert.ok(m.statements.includes('SET GLOBAL wsrep_desync=OFF'));
  });

  it('the connection died during the backup: reconnects to restore, and closes the new connection', async () => {
    const { m, conn } = member();
    let fresh: (SqlConnection & { closed: boolean }) | undefined;
    const got = await withDesync(
      conn,
      async () => {
        m.broken = true;
        return 'done';
      },
      {
        ...fast,
        reconnect: () => {
          fresh = m.connection();
          return Promise.resolve(fresh);
        },
      },
    );
    assert.equal(got, 'done');
    assert.equal(m.desync, false);
    assert.equal(fresh?.closed, true);
  });

  it('the connection died and no reconnect: ConnectionFailed telling the operator to set OFF by hand', async () => {
    const { m, conn } = member();
    await assert.rejects(
      withDesync(
        conn,
        async () => {
          m.broken = true;
        },
        fast,
      ),
      (err: unknown) =>
        err instanceof ConnectionFailedError && /SET GLOBAL wsrep_desync=OFF on it now/.test(err.message),
    );
  });

  it('never Synced again: TimeoutError with the last state', async () => {
    const { conn } = member({ neverSyncs: true });
    await assert.rejects(
      withDesync(conn, () => Promise.resolve(1), { ...fast, syncTimeoutMs: 30 }),
      (err: unknown) =>
        err instanceof TimeoutError && /node3 did not return to Synced .*last state: Joined/.test(err.message),
    );
  });
});
