// Test objects: the sample manifests from crds/samples, which the docs show users, so the e2e
// tests exercise exactly what a newcomer would apply.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import type { KubeObject } from './kube.js';
import { REPO_ROOT } from './stack.js';

export type SampleFile = 'backup' | 'cluster-standalone' | 'cluster-galera' | 'restore' | 'scheduled-backup';

/** One sample manifest, placed in the namespace (a fresh copy each call: tests may change it). */
export function sample(file: SampleFile, namespace: string): KubeObject {
  const obj = parse(readFileSync(join(REPO_ROOT, 'crds', 'samples', `${file}.yaml`), 'utf8')) as KubeObject;
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
