// The stack's node (hack/node.sh): a kubelet, containerd, kube-proxy, kube-controller-manager and
// kube-scheduler beside the API server. Pods run the probe image node.sh builds and loads
// (LIFEBOAT_NODE_PROBE_IMAGE: a static HTTP client and server); no registry is reachable, so every
// pod here uses imagePullPolicy Never. Skipped on a stack started with --no-node.
import assert from 'node:assert/strict';
import { ApiException, BatchV1Api, type V1Container, type V1Pod } from '@kubernetes/client-node';
import { eventually } from './support/eventually.js';
import { createNamespace, kube, kubectlOk, type TestNamespace } from './support/kube.js';
import { requireVar, stackEnv } from './support/stack.js';

function probeContainer(args: string[]): V1Container {
  return { name: 'probe', image: requireVar('LIFEBOAT_NODE_PROBE_IMAGE', 'the node'), imagePullPolicy: 'Never', args };
}

async function podPhase(namespace: string, name: string): Promise<string | undefined> {
  const pod = await kube().core.readNamespacedPod({ namespace, name });
  return pod.status?.phase;
}

/** Runs the probe once in a pod (restartPolicy Never); resolves with its phase and output. */
async function runProbe(namespace: string, name: string, args: string[]): Promise<{ phase: string; log: string }> {
  const body: V1Pod = { metadata: { name }, spec: { restartPolicy: 'Never', containers: [probeContainer(args)] } };
  await kube().core.createNamespacedPod({ namespace, body });
  const phase = await eventually(
    `pod ${namespace}/${name} to finish`,
    async () => {
      const p = await podPhase(namespace, name);
      return p === 'Succeeded' || p === 'Failed' ? p : undefined;
    },
    90_000,
  );
  return { phase, log: kubectlOk(['logs', '-n', namespace, name]) };
}

async function gone(read: () => Promise<unknown>): Promise<true | undefined> {
  try {
    await read();
    return undefined;
  } catch (err) {
    if (err instanceof ApiException && err.code === 404) return true;
    throw err;
  }
}

describe('the stack node', function () {
  let ns: TestNamespace;
  let batch: BatchV1Api;

  before(async function () {
    if (stackEnv().LIFEBOAT_NODE !== '1') {
      console.log('    (the stack runs without its node: hack/up.sh --no-node)');
      this.skip();
    }
    batch = kube().config.makeApiClient(BatchV1Api);
    ns = await createNamespace('node');
    // Pods need the namespace's `default` ServiceAccount, which the controller-manager makes.
    await eventually('the default ServiceAccount', async () =>
      kube()
        .core.readNamespacedServiceAccount({ namespace: ns.name, name: 'default' })
        .catch(() => undefined),
    );
  });

  after(async function () {
    if (!ns) return;
    this.timeout(180_000);
    // Deleted for real: the namespace controller removes the pods, then the namespace.
    await kube().core.deleteNamespace({ name: ns.name });
    await eventually(
      `namespace ${ns.name} to be deleted by the namespace controller`,
      () => gone(() => kube().core.readNamespace({ name: ns.name })),
      150_000,
    );
  });

  it('has one node, Ready, at the node address', async () => {
    const node = await kube().core.readNode({ name: requireVar('LIFEBOAT_NODE_NAME', 'the node') });
    const ready = node.status?.conditions?.find((c) => c.type === 'Ready');
    assert.equal(ready?.status, 'True', `node not Ready: ${ready?.message ?? 'no Ready condition'}`);
    const internal = node.status?.addresses?.find((a) => a.type === 'InternalIP')?.address ?? '';
    // node.sh: the host end of the veth is .254 of the node network, the node .1.
    assert.equal(internal, requireVar('LIFEBOAT_NODE_HOST_IP', 'the node').replace(/\.254$/, '.1'));
  });

  it('runs a Job to completion, and a failing one to Failed', async function () {
    this.timeout(180_000);
    const job = (name: string, code: number) => ({
      metadata: { name },
      spec: {
        backoffLimit: 0,
        template: { spec: { restartPolicy: 'Never', containers: [probeContainer(['exit', String(code)])] } },
      },
    });
    await batch.createNamespacedJob({ namespace: ns.name, body: job('succeeds', 0) });
    await batch.createNamespacedJob({ namespace: ns.name, body: job('fails', 3) });
    const finished = async (name: string): Promise<string | undefined> => {
      const j = await batch.readNamespacedJob({ namespace: ns.name, name });
      return j.status?.conditions?.find((c) => (c.type === 'Complete' || c.type === 'Failed') && c.status === 'True')
        ?.type;
    };
    assert.equal(await eventually('Job succeeds to finish', () => finished('succeeds'), 120_000), 'Complete');
    assert.equal(await eventually('Job fails to finish', () => finished('fails'), 120_000), 'Failed');
    const pods = await kube().core.listNamespacedPod({ namespace: ns.name, labelSelector: 'job-name=fails' });
    assert.equal(pods.items[0]?.status?.containerStatuses?.[0]?.state?.terminated?.exitCode, 3);
  });

  it('routes a ClusterIP Service to its pod (kube-proxy)', async function () {
    this.timeout(180_000);
    const labels = { app: 'node-web' };
    await kube().core.createNamespacedPod({
      namespace: ns.name,
      body: {
        metadata: { name: 'web', labels },
        spec: {
          containers: [
            {
              ...probeContainer(['serve', '8080']),
              ports: [{ containerPort: 8080 }],
              readinessProbe: { httpGet: { path: '/', port: 8080 }, periodSeconds: 1 },
            },
          ],
        },
      },
    });
    const svc = await kube().core.createNamespacedService({
      namespace: ns.name,
      body: { metadata: { name: 'web' }, spec: { selector: labels, ports: [{ port: 80, targetPort: 8080 }] } },
    });
    await eventually('pod web to be ready', async () => {
      const p = await kube().core.readNamespacedPod({ namespace: ns.name, name: 'web' });
      return p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ? true : undefined;
    });
    // kube-proxy writes the Service's rules a moment after the endpoint turns ready (until then the
    // node refuses connections to it): a new client pod until one gets an answer, for up to a minute.
    let attempt = 0;
    const answer = await eventually(
      'a pod to get an answer through the Service',
      async () => {
        const { phase, log } = await runProbe(ns.name, `client-${attempt++}`, [
          'get',
          `http://${svc.spec?.clusterIP ?? ''}/`,
        ]);
        return phase === 'Succeeded' ? log : undefined;
      },
      60_000,
    );
    assert.equal(answer.trim(), '200 node-probe web');
  });

  it('lets a pod reach the API server through the `kubernetes` Service, its certificate verified', async function () {
    this.timeout(120_000);
    const svc = await kube().core.readNamespacedService({ namespace: 'default', name: 'kubernetes' });
    const { phase, log } = await runProbe(ns.name, 'api-client', [
      'get',
      `https://${svc.spec?.clusterIP ?? ''}/version`,
    ]);
    assert.equal(phase, 'Succeeded', log);
    assert.match(log, /^200 /);
    assert.equal((JSON.parse(log.slice(4)) as { gitVersion?: string }).gitVersion?.startsWith('v1.'), true);
  });

  it('garbage-collects a dependent when its owner is deleted', async function () {
    this.timeout(120_000);
    const owner = await kube().core.createNamespacedConfigMap({
      namespace: ns.name,
      body: { metadata: { name: 'owner' }, data: { role: 'owner' } },
    });
    await kube().core.createNamespacedConfigMap({
      namespace: ns.name,
      body: {
        metadata: {
          name: 'dependent',
          ownerReferences: [{ apiVersion: 'v1', kind: 'ConfigMap', name: 'owner', uid: owner.metadata?.uid ?? '' }],
        },
      },
    });
    await kube().core.deleteNamespacedConfigMap({ namespace: ns.name, name: 'owner' });
    await eventually(
      'the dependent ConfigMap to be garbage-collected',
      () => gone(() => kube().core.readNamespacedConfigMap({ namespace: ns.name, name: 'dependent' })),
      90_000,
    );
  });

  it("lets a pod reach the stack's MinIO through the forwarder on the node network", async function () {
    this.timeout(120_000);
    const port = new URL(requireVar('S3_ENDPOINT', 'MinIO')).port;
    const host = requireVar('LIFEBOAT_NODE_HOST_IP', 'the node');
    const bucket = requireVar('S3_BUCKET', 'MinIO');
    const health = await runProbe(ns.name, 'minio-health', ['get', `http://${host}:${port}/minio/health/ready`]);
    assert.equal(health.phase, 'Succeeded', health.log);
    assert.equal(health.log.trim(), '200');
    // Anonymous: MinIO refuses, naming the stack's bucket; an S3 answer, not just an open port.
    const listing = await runProbe(ns.name, 'minio-bucket', ['get', `http://${host}:${port}/${bucket}/`]);
    assert.match(listing.log, /^403 /);
    assert.match(listing.log, new RegExp(`<BucketName>${bucket}</BucketName>`));
  });
});
