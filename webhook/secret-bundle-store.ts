// The self-signed bundle kept in a Kubernetes Secret, so every replica serves the same CA and the
// replicas do not take turns overwriting each other's caBundle.
import { KubeConflictError, type KubeClient } from '../lib/kube-client.js';
import { ensureSelfSigned, type EnsuredBundle, type TlsBundle, type TlsBundleStore } from './self-signed-ca.js';

export class SecretBundleStore implements TlsBundleStore {
  /** The resourceVersion last read, so a save replaces exactly that version or fails with 409. */
  private readVersion: string | undefined;

  constructor(
    private readonly kube: KubeClient,
    readonly namespace: string,
    readonly name: string,
  ) {}

  describe(): string {
    return `Secret ${this.namespace}/${this.name}`;
  }

  async load(): Promise<TlsBundle | undefined> {
    const secret = await this.kube.readSecret(this.namespace, this.name);
    this.readVersion = secret?.resourceVersion;
    const { 'ca.crt': caCert, 'tls.crt': cert, 'tls.key': key } = secret?.data ?? {};
    return caCert && cert && key ? { caCert, cert, key } : undefined;
  }

  async save(bundle: TlsBundle): Promise<void> {
    const data = { 'ca.crt': bundle.caCert, 'tls.crt': bundle.cert, 'tls.key': bundle.key };
    await this.kube.writeSecret(this.namespace, this.name, data, this.readVersion);
  }
}

/**
 * ensureSelfSigned, where another replica may write the same store at the same moment: the one that
 * loses the race reads and serves the winner's bundle.
 */
export async function ensureShared(store: TlsBundleStore, hosts: readonly string[]): Promise<EnsuredBundle> {
  try {
    return await ensureSelfSigned(store, hosts);
  } catch (err) {
    if (!(err instanceof KubeConflictError)) throw err;
    return await ensureSelfSigned(store, hosts);
  }
}
