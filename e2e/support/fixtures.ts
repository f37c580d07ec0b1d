// Test objects: the sample manifests from crds/samples, which the docs show users, so the e2e
// tests exercise exactly what a newcomer would apply.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import type { KubeObject } from './kube.js';
import { REPO_ROOT } from './stack.js';

// The files are numbered so that `kubectl apply -f crds/samples/` creates each object after the
// ones it names (a Backup after its Cluster, so it inherits the Cluster's objectStore).
const SAMPLE_FILES = {
  'cluster-standalone': '2-cluster-standalone.yaml',
  'cluster-galera': '2-cluster-galera.yaml',
  backup: '3-backup.yaml',
  'scheduled-backup': '3-scheduled-backup.yaml',
  restore: '4-restore.yaml',
} as const;

export type SampleFile = keyof typeof SAMPLE_FILES;

/** One sample manifest, placed in the namespace (a fresh copy each call: tests may change it). */
export function sample(file: SampleFile, namespace: string): KubeObject {
  const path = join(REPO_ROOT, 'crds', 'samples', SAMPLE_FILES[file]);
  const obj = parse(readFileSync(path, 'utf8')) as KubeObject;
  return { ...obj, metadata: { ...obj.metadata, namespace } };
}

/** The generated CRD manifests, crds/lifeboat.dev_*.yaml, as the suite installs them. */
export interface CrdManifest {
  metadata: { name: string };
  spec: {
    group: string;
    names: { kind: string; plural: string; shortNames?: string[]; categories?: string[] };
    versions: { name: string; additionalPrinterColumns?: { name: string; priority?: number }[] }[];
  };
}

export function crdManifests(): CrdManifest[] {
  const dir = join(REPO_ROOT, 'crds');
  return ['backups', 'clusters', 'restores', 'scheduledbackups'].map(
    (plural) => parse(readFileSync(join(dir, `lifeboat.dev_${plural}.yaml`), 'utf8')) as CrdManifest,
  );
}

/** A SHA-256 hex digest, as Backup.status.sha256 holds. */
export const SAMPLE_SHA256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';
