// Tick arithmetic on node-cron: the newest missed tick, Backup names from ticks, label values.
import assert from 'node:assert/strict';
import {
  backupNameFor,
  cronTask,
  latestTick,
  nextRun,
  scheduleLabelValue,
} from '../../../runner/schedules/schedule-ticks.js';

const at = (iso: string): Date => new Date(iso);

describe('schedule ticks', () => {
  it('latestTick: the newest tick in (after, upTo], for 5- and 6-field expressions', () => {
    const daily = { schedule: '0 3 * * *' };
    const task = cronTask(daily, () => undefined);
    assert.deepEqual(
      latestTick(task, daily, at('2026-12-01T00:00:00Z'), at('2026-12-03T10:00:00Z')),
      at('2026-12-03T03:00:00Z'),
    );
    assert.equal(
      latestTick(task, daily, at('2026-12-03T03:00:00Z'), at('2026-12-03T10:00:00Z')),
      undefined,
      'after is exclusive',
    );
    assert.deepEqual(
      latestTick(task, daily, at('2026-12-03T02:59:59Z'), at('2026-12-03T03:00:00Z')),
      at('2026-12-03T03:00:00Z'),
      'upTo is inclusive',
    );
    const every5s = { schedule: '*/5 * * * * *' };
    const fast = cronTask(every5s, () => undefined);
    assert.deepEqual(
      latestTick(fast, every5s, at('2026-12-03T09:00:00Z'), at('2026-12-03T10:00:07.900Z')),
      at('2026-12-03T10:00:05Z'),
    );
  });

  it('latestTick: in the schedule’s time zone', () => {
    const berlin = { schedule: '30 2 * * *', timeZone: 'Europe/Berlin' };
    const task = cronTask(berlin, () => undefined);
    // 02:30 in Berlin in December (UTC+1) is 01:30Z.
    assert.deepEqual(
      latestTick(task, berlin, at('2026-12-01T00:00:00Z'), at('2026-12-03T10:00:00Z')),
      at('2026-12-03T01:30:00Z'),
    );
  });

  it('backupNameFor: the tick’s wall time in the schedule’s zone; the repeated hour of a DST change names one Backup', () => {
    assert.equal(backupNameFor('nightly', at('2026-12-03T03:00:00Z'), undefined), 'nightly-20261203030000');
    assert.equal(backupNameFor('nightly', at('2026-12-03T01:30:00Z'), 'Europe/Berlin'), 'nightly-20261203023000');
    // 02:30 Berlin happens twice on 25 Oct 2026 (00:30Z in summer time, 01:30Z in winter time).
    const first = backupNameFor('nightly', at('2026-10-25T00:30:00Z'), 'Europe/Berlin');
    const second = backupNameFor('nightly', at('2026-10-25T01:30:00Z'), 'Europe/Berlin');
    assert.equal(first, second);
  });

  it('backupNameFor and scheduleLabelValue: long names are cut and suffixed with a hash, within the limits', () => {
    const long = 'a'.repeat(250);
    const name = backupNameFor(long, at('2026-12-03T03:00:00Z'), undefined);
    assert.ok(name.length <= 253, `${name.length}`);
    assert.match(name, /^a+-[0-9a-f]{8}-20261203030000$/);
    assert.notEqual(
      backupNameFor(`${long}b`, at('2026-12-03T03:00:00Z'), undefined),
      name,
      'distinct schedules stay distinct',
    );
    assert.equal(scheduleLabelValue('nightly'), 'nightly');
    const label = scheduleLabelValue('x'.repeat(70));
    assert.equal(label.length, 63);
    assert.match(label, /^x+-[0-9a-f]{8}$/);
  });

  it('nextRun: the next tick of a task not yet started', () => {
    const task = cronTask({ schedule: '0 3 * * *' }, () => undefined);
    const next = nextRun(task);
    assert.ok(next && next.getTime() > Date.now() && next.getUTCHours() === 3);
  });
});
