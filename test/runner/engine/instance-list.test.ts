// Instances from a Cluster spec: static lists and pods, ordinals and the writer.
import assert from 'node:assert/strict';
import type { Cluster } from '../../../crds/kinds.js';
import {
  address,
  clusterInstances,
  podInstances,
  podOrdinal,
  staticInstances,
  writerOf,
  type PodLike,
} from '../../../runner/engine/instance-list.js';
import { NoHealthySourceError } from '../../../runner/work-failures.js';

const WRITER = { 'lifeboat.dev/role': 'writer' };

function spec(instances: Cluster['spec']['instances']): Cluster['spec'] {
  return { engine: 'mariadb', topology: 'galera', instances, credentials: { secretRef: { name: 's' } } };
}

describe('instance list', () => {
  it('static: in order, port 3306 by default, the first is the writer', () => {
    const got = staticInstances([
      { name: 'a', host: 'db-a', port: 13307 },
      { name: 'b', host: 'db-b' },
    ]);
    assert.deepEqual(got, [
      { name: 'a', host: 'db-a', port: 13307, ordinal: 0, writer: true },
      { name: 'b', host: 'db-b', port: 3306, ordinal: 1, writer: false },
    ]);
  });

  const ordinals: [string, number][] = [
    ['galera-0', 0],
    ['galera-12', 12],
    ['my-db-3', 3],
    ['standalone', -1],
    ['db-x1', -1],
  ];
  for (const [name, want] of ordinals) {
    it(`ordinal of pod ${name} is ${want}`, () => assert.equal(podOrdinal(name), want));
  }

  const podCases: { title: string; pods: PodLike[]; names: string[]; writer: string }[] = [
    {
      title: 'sorted by ordinal, not by name; first is the writer without a label',
      pods: [
        { name: 'db-10', podIP: '10.0.0.10' },
        { name: 'db-2', podIP: '10.0.0.2' },
        { name: 'db-1', podIP: '10.0.0.1' },
      ],
      names: ['db-1', 'db-2', 'db-10'],
      writer: 'db-1',
    },
    {
      title: 'the pod labelled lifeboat.dev/role=writer is the writer',
      pods: [
        { name: 'db-0', podIP: '10.0.0.1' },
        { name: 'db-2', podIP: '10.0.0.3', labels: WRITER },
        { name: 'db-1', podIP: '10.0.0.2', labels: { 'lifeboat.dev/role': 'reader' } },
      ],
      names: ['db-0', 'db-1', 'db-2'],
      writer: 'db-2',
    },
    {
      title: 'two labelled writers: the lower ordinal wins',
      pods: [
        { name: 'db-2', podIP: '10.0.0.3', labels: WRITER },
        { name: 'db-1', podIP: '10.0.0.2', labels: WRITER },
      ],
      names: ['db-1', 'db-2'],
      writer: 'db-1',
    },
  ];
  for (const c of podCases) {
    it(`pods: ${c.title}`, () => {
      const got = podInstances(c.pods, 3307);
      assert.deepEqual(
        got.map((i) => i.name),
        c.names,
      );
      assert.deepEqual(
        got.filter((i) => i.writer).map((i) => i.name),
        [c.writer],
      );
      assert.ok(got.every((i) => i.port === 3307));
    });
  }

  it('a pod without an IP is kept with an empty host (it counts as a member but cannot be reached)', () => {
    const [pod] = podInstances([{ name: 'db-0' }]);
    assert.equal(pod?.host, '');
    assert.equal(address(pod!), '<no address>:3306');
  });

  it('clusterInstances: static wins, selector maps the given pods with instances.port', () => {
    const fromStatic = clusterInstances('c', spec({ static: [{ name: 'n1', host: 'h' }] }));
    assert.equal(fromStatic[0]?.name, 'n1');
    const fromPods = clusterInstances('c', spec({ selector: { matchLabels: { app: 'db' } }, port: 3307 }), [
      { name: 'db-0', podIP: '10.0.0.1' },
    ]);
    assert.deepEqual(fromPods[0], { name: 'db-0', host: '10.0.0.1', port: 3307, ordinal: 0, writer: true });
  });

  it('clusterInstances: a selector matching no pods → NoHealthySourceError naming the fix', () => {
    assert.throws(
      () => clusterInstances('shop', spec({ selector: { matchLabels: { app: 'db' } } }), []),
      (err: unknown) =>
        err instanceof NoHealthySourceError && /Cluster shop: .*selector matches no pods/.test(err.message),
    );
  });

  it('writerOf: the flagged instance; an empty list throws NoHealthySourceError', () => {
    assert.equal(writerOf(staticInstances([{ name: 'a', host: 'h' }])).name, 'a');
    assert.throws(() => writerOf([]), NoHealthySourceError);
  });
});
