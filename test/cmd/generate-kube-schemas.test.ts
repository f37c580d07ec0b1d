// The schemas kubeconform is given for Lifeboat's CRDs: strict where Kubernetes is (an unknown
// spec field is refused) and open where the API server, not the CRD, judges (ObjectMeta).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Ajv } from 'ajv';
import { parse } from 'yaml';
import { kubeconformSchemas, type CrdDocument } from '../../cmd/generate-kube-schemas.js';
import { PACKAGE_ROOT } from '../../policies/cli/package-paths.js';

function read(path: string): unknown {
  return parse(readFileSync(join(PACKAGE_ROOT, path), 'utf8'));
}

describe('kubeconform schemas of the CRDs', () => {
  const crd = read('crds/lifeboat.dev_clusters.yaml') as CrdDocument;
  const schema = kubeconformSchemas({ definitions: {} }, [crd]).get('cluster-lifeboat-v1alpha1.json');
  // kubeconform's validator ignores the x-kubernetes-* keywords; so does this one.
  const validate = new Ajv({ strict: false, allErrors: true, validateFormats: false }).compile(schema ?? {});
  const cluster = read('crds/samples/2-cluster-standalone.yaml') as { metadata: object; spec: object };

  it('accepts a Cluster with a namespace and labels: metadata is the API server’s to judge', () => {
    const labelled = { ...cluster, metadata: { ...cluster.metadata, namespace: 'shop', labels: { team: 'a' } } };
    assert.equal(validate(labelled), true, JSON.stringify(validate.errors));
  });

  it('refuses a field the spec does not have, and keeps the CRD’s limit on the name', () => {
    assert.equal(validate({ ...cluster, spec: { ...cluster.spec, engin: 'mariadb' } }), false);
    assert.match(JSON.stringify(validate.errors), /engin/);
    assert.equal(validate({ ...cluster, metadata: { name: 'x'.repeat(64) } }), false);
  });
});
