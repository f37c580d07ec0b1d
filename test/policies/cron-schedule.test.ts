import assert from 'node:assert/strict';
import { checkSchedule, formatSeconds, isTimeZone } from '../../policies/cron-schedule.js';
import { parseDuration } from '../../crds/durations.js';

function interval(expr: string): number {
  const r = checkSchedule(expr);
  assert.ok(r.ok, `${expr}: ${r.ok ? '' : r.problem}`);
  return r.minIntervalSeconds;
}

describe('cron schedules', () => {
  it('computes the shortest gap between runs', () => {
    assert.equal(interval('0 3 * * *'), 86_400);
    assert.equal(interval('*/5 * * * *'), 300);
    assert.equal(interval('0 */6 * * *'), 6 * 3600);
    assert.equal(interval('*/10 * * * * *'), 10);
    assert.equal(interval('0 1,2 * * *'), 3600);
    assert.equal(interval('@daily'), 86_400);
  });

  it('counts a time named twice once', () => {
    assert.equal(interval('0,0 3 * * *'), 86_400);
    assert.equal(interval('0 3,3 * * *'), 86_400);
  });

  it('refuses numbers no field allows before node-cron expands them (it would list every value)', () => {
    const huge = checkSchedule('0-99999999 * * * *');
    assert.ok(!huge.ok && huge.problem.startsWith('minute: 99999999 is out of range;'), JSON.stringify(huge));
    const seconds = checkSchedule('0 0 0-1000000 * * *');
    assert.ok(!seconds.ok && seconds.problem.startsWith('hour: 1000000 is out of range;'), JSON.stringify(seconds));
  });

  it('counts the gap across midnight', () => {
    assert.equal(interval('0,59 0,23 * * *'), 60);
    assert.equal(interval('30 23 * * *'), 86_400);
  });

  it('explains what does not parse', () => {
    const wrongCount = checkSchedule('0 3 * *');
    assert.ok(!wrongCount.ok && /has 4 fields; write 5/.test(wrongCount.problem));
    const badValue = checkSchedule('61 * * * *');
    assert.ok(!badValue.ok && /minute/.test(badValue.problem));
  });

  it('knows IANA zones', () => {
    assert.ok(isTimeZone('Europe/Berlin'));
    assert.ok(isTimeZone('UTC'));
    assert.ok(!isTimeZone('Europe/Berlln'));
  });

  it('formats and parses durations', () => {
    assert.equal(formatSeconds(300), '5m');
    assert.equal(formatSeconds(90_061), '1d1h1m1s');
    assert.equal(parseDuration('1h30m'), 5400);
    assert.equal(parseDuration('30d'), 30 * 86_400);
    assert.equal(parseDuration('5 minutes'), undefined);
    assert.equal(parseDuration(''), undefined);
  });
});
