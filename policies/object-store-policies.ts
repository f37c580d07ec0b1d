// Object store: every Backup has a bucket it can reach, named in a way S3 accepts, with one way to
// authenticate and no plain-text traffic unless asked for.
import { X509Certificate } from 'node:crypto';
import type { ObjectStoreSpec } from '../crds/object-store-types.js';
import { backupSpecSite, objectStoreSites, ownerCluster, type Site } from './object-sites.js';
import type { PolicyContext, ValidatingPolicy, Violation } from './policy-types.js';
import { effectiveObjectStore } from '../crds/object-store-funcs.js';

const STORE_KINDS = ['Cluster', 'Backup', 'ScheduledBackup'] as const;

/** Runs `check` on every object store the object holds. */
function eachStore(ctx: PolicyContext, check: (site: Site<ObjectStoreSpec>) => Violation[]): Violation[] {
  return objectStoreSites(ctx.object).flatMap(check);
}

/** S3 bucket naming rules (the strict, DNS-compatible set every S3-compatible store accepts). */
export function bucketNameProblem(name: string): string | undefined {
  if (name.length < 3 || name.length > 63) return `is ${name.length} characters long; use 3 to 63`;
  if (!/^[a-z0-9.-]+$/.test(name)) return 'may hold only lowercase letters, digits, dots and hyphens';
  if (!/^[a-z0-9]/.test(name) || !/[a-z0-9]$/.test(name)) return 'must start and end with a letter or digit';
  if (name.includes('..')) return 'may not hold two dots in a row';
  if (/^\d+\.\d+\.\d+\.\d+$/.test(name)) return 'may not look like an IP address';
  return undefined;
}

// The characters S3 documents as safe in a key; anything else is encoded differently by different
// clients and stores, or (a space, "#", "?") breaks the URLs that show where a backup is.
const SAFE_KEY_CHARACTER = /[A-Za-z0-9!_.*'()/-]/;

export function keyPrefixProblem(path: string): string | undefined {
  const unsafe = [...path].find((c) => !SAFE_KEY_CHARACTER.test(c));
  if (unsafe !== undefined)
    return `holds ${JSON.stringify(unsafe)}; use only letters, digits, "/" and the characters ! _ . * ' ( ) -`;
  if (path.startsWith('/')) return 'may not start with "/"; keys are relative to the bucket';
  if (path.endsWith('/')) return 'may not end with "/"; Lifeboat adds the "/" before the Cluster name';
  if (path.split('/').some((segment) => segment === '..' || segment === '.'))
    return 'may not hold "." or ".." segments';
  if (path.includes('//')) return 'may not hold empty segments ("//")';
  return undefined;
}

function pemProblem(bundle: string): string | undefined {
  const blocks = bundle.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g);
  if (!blocks) return 'holds no PEM certificate (-----BEGIN CERTIFICATE----- … -----END CERTIFICATE-----)';
  for (const [i, block] of blocks.entries()) {
    try {
      new X509Certificate(block);
    } catch {
      return `certificate ${i + 1} of ${blocks.length} is not valid PEM`;
    }
  }
  return undefined;
}

export const objectStorePolicies: ValidatingPolicy[] = [
  {
    id: 'LB201',
    name: 'object-store-resolvable',
    category: 'object-store',
    severity: 'deny',
    kinds: ['Backup', 'ScheduledBackup'],
    rule: 'A Backup has an objectStore of its own or inherits one from its Cluster.',
    rationale:
      'A Backup with nowhere to go fails with ObjectStoreMissing; saying so at admission saves the failed run.',
    check(ctx) {
      const site = backupSpecSite(ctx.object);
      const cluster = ownerCluster(ctx);
      if (!site || !cluster || effectiveObjectStore({ spec: site.value }, cluster)) return [];
      return [
        {
          path: site.path,
          message: `no objectStore here and Cluster ${cluster.metadata.name} has no spec.backup.objectStore to inherit; set one of them`,
        },
      ];
    },
  },
  {
    id: 'LB202',
    name: 'object-store-bucket-name',
    category: 'object-store',
    severity: 'deny',
    kinds: STORE_KINDS,
    rule: 'bucket is a valid S3 bucket name.',
    rationale: 'An invalid name fails only when the first backup tries to upload, often hours after the change merged.',
    check: (ctx) =>
      eachStore(ctx, ({ path, value }) => {
        const problem = bucketNameProblem(value.bucket);
        return problem ? [{ path: [...path, 'bucket'], message: `bucket "${value.bucket}" ${problem}` }] : [];
      }),
  },
  {
    id: 'LB203',
    name: 'object-store-path',
    category: 'object-store',
    severity: 'deny',
    kinds: STORE_KINDS,
    rule: 'path is a relative key prefix of safe characters (letters, digits, / ! _ . * \' ( ) -): no leading or trailing "/", no empty, "." or ".." segments.',
    rationale:
      'Such prefixes are stored differently by different S3 implementations, so backups land where restores and retention do not look.',
    check: (ctx) =>
      eachStore(ctx, ({ path, value }) => {
        const problem = value.path === undefined ? undefined : keyPrefixProblem(value.path);
        return problem ? [{ path: [...path, 'path'], message: `path "${value.path}" ${problem}` }] : [];
      }),
  },
  {
    id: 'LB204',
    name: 'object-store-credentials',
    category: 'object-store',
    severity: 'deny',
    kinds: STORE_KINDS,
    rule: 'An objectStore uses either credentials (access key and secret key) or inheritFromIAMRole: true, exactly one.',
    rationale: 'With both it is unclear which identity writes the backups; with neither the upload is refused.',
    check: (ctx) =>
      eachStore(ctx, ({ path, value }) => {
        const iam = value.inheritFromIAMRole === true;
        if (value.credentials && iam) {
          return [
            {
              path: [...path, 'inheritFromIAMRole'],
              message: 'credentials and inheritFromIAMRole are both set; keep one',
            },
          ];
        }
        if (!value.credentials && !iam) {
          return [
            {
              path,
              message:
                'no credentials; set credentials.accessKeyId and credentials.secretAccessKey, or inheritFromIAMRole: true',
            },
          ];
        }
        return [];
      }),
  },
  {
    id: 'LB205',
    name: 'object-store-endpoint',
    category: 'object-store',
    severity: 'deny',
    kinds: STORE_KINDS,
    rule: 'endpoint is an http(s) URL, and http:// only with insecure: true.',
    rationale: 'Over plain HTTP the backups and the S3 credentials cross the network readable by anyone on the path.',
    check: (ctx) =>
      eachStore(ctx, ({ path, value }) => {
        if (value.endpoint === undefined || value.endpoint === '') return [];
        const at = [...path, 'endpoint'];
        let url: URL;
        try {
          url = new URL(value.endpoint);
        } catch {
          return [{ path: at, message: `endpoint "${value.endpoint}" is not a URL; write it as https://host[:port]` }];
        }
        if (url.protocol !== 'https:' && url.protocol !== 'http:') {
          return [
            {
              path: at,
              message: `endpoint "${value.endpoint}" uses ${url.protocol}; use https:// (or http:// with insecure: true)`,
            },
          ];
        }
        if (url.protocol === 'http:' && value.insecure !== true) {
          return [
            {
              path: at,
              message: `endpoint "${value.endpoint}" is plain http; use https://, or set insecure: true to accept unencrypted traffic`,
            },
          ];
        }
        return [];
      }),
  },
  {
    id: 'LB206',
    name: 'object-store-ca-pem',
    category: 'object-store',
    severity: 'deny',
    kinds: STORE_KINDS,
    rule: 'tls.caBundle holds PEM certificates that parse.',
    rationale:
      'A broken bundle makes every TLS handshake fail, and base64 or DER pasted by mistake is easy to miss in review.',
    check: (ctx) =>
      eachStore(ctx, ({ path, value }) => {
        const bundle = value.tls?.caBundle;
        const problem = bundle === undefined ? undefined : pemProblem(bundle);
        return problem
          ? [
              {
                path: [...path, 'tls', 'caBundle'],
                message: `caBundle ${problem}; paste the CA certificate as PEM text`,
              },
            ]
          : [];
      }),
  },
  {
    id: 'LB207',
    name: 'object-store-kms-key',
    category: 'object-store',
    severity: 'deny',
    kinds: STORE_KINDS,
    rule: 'serverSideEncryption.kmsKeyID is set with type aws:kms, and only then.',
    rationale:
      'aws:kms without a key falls back to the account default key, which is rarely what was meant; a key with AES256 is ignored.',
    check: (ctx) =>
      eachStore(ctx, ({ path, value }) => {
        const sse = value.serverSideEncryption;
        if (!sse) return [];
        const at = [...path, 'serverSideEncryption'];
        if (sse.type === 'aws:kms' && !sse.kmsKeyID)
          return [{ path: at, message: 'type aws:kms needs kmsKeyID; name the KMS key' }];
        if (sse.type !== 'aws:kms' && sse.kmsKeyID)
          return [
            {
              path: [...at, 'kmsKeyID'],
              message: `kmsKeyID is ignored with type ${sse.type}; remove it or use aws:kms`,
            },
          ];
        return [];
      }),
  },
  {
    id: 'LB208',
    name: 'object-store-one-ca',
    category: 'object-store',
    severity: 'deny',
    kinds: STORE_KINDS,
    rule: 'tls sets caBundle or caSecretRef, not both.',
    rationale: 'Two sources of trust for one endpoint leave it unclear which one is used.',
    check: (ctx) =>
      eachStore(ctx, ({ path, value }) =>
        value.tls?.caBundle !== undefined && value.tls.caSecretRef
          ? [{ path: [...path, 'tls', 'caSecretRef'], message: 'tls sets both caBundle and caSecretRef; keep one' }]
          : [],
      ),
  },
  {
    id: 'LB209',
    name: 'object-store-signature-v4',
    category: 'object-store',
    severity: 'deny',
    kinds: STORE_KINDS,
    rule: 'signatureVersion is v4 or absent.',
    rationale:
      'Lifeboat signs every request with Signature Version 4; accepting v2 would admit a store setting that fails only when the first backup runs.',
    check: (ctx) =>
      eachStore(ctx, ({ path, value }) =>
        value.signatureVersion === 'v2'
          ? [
              {
                path: [...path, 'signatureVersion'],
                message:
                  'signatureVersion v2 is not supported: Lifeboat signs with V4, which MinIO and S3 accept; remove the field or set v4',
              },
            ]
          : [],
      ),
  },
];
