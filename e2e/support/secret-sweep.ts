// The secrets sweep: while the e2e suite runs, everything a user or an attacker with read access
// could see is checked for the stack's secrets (the database and Galera passwords, the MinIO keys,
// every private key of the stack): what the stack's components log, every Event, every Lifeboat
// object and Job as stored, every metadata.json in MinIO, and the command line of every process
// (plus the environment of the database tools, which must get their password from a file). The
// suite fails on a single hit. docs/design.md ("Secrets") says why each place matters.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { GetObjectCommand, ListBucketsCommand, ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import { KubeConfig, Watch } from '@kubernetes/client-node';
import { ProcessSampler, type ProcessSamples } from './process-sampler.js';

/** A value that must never be seen, and the name a report uses instead of it. */
export interface SweepSecret {
  readonly name: string;
  readonly value: string;
}

/** Where a secret was seen; `where` never contains the value. */
export interface SweepHit {
  readonly secret: string;
  readonly where: string;
}

export interface SweepCounts {
  secrets: number;
  logFiles: number;
  logBytes: number;
  events: number;
  lifeboatObjects: number;
  jobs: number;
  metadataFiles: number;
  processSamples: number;
  commandLines: number;
  toolEnvironments: number;
  serverTools: number;
}

/** Shorter values could turn up by chance (a hex digest, a port); the stack's secrets are longer. */
const MIN_SECRET_LENGTH = 12;

const WATCHED_PATHS: readonly { path: string; count: 'events' | 'lifeboatObjects' | 'jobs' }[] = [
  { path: '/api/v1/events', count: 'events' },
  { path: '/apis/lifeboat.dev/v1alpha1/clusters', count: 'lifeboatObjects' },
  { path: '/apis/lifeboat.dev/v1alpha1/backups', count: 'lifeboatObjects' },
  { path: '/apis/lifeboat.dev/v1alpha1/scheduledbackups', count: 'lifeboatObjects' },
  { path: '/apis/lifeboat.dev/v1alpha1/restores', count: 'lifeboatObjects' },
  { path: '/apis/batch/v1/jobs', count: 'jobs' },
];

/**
 * What a secret looks like base64-encoded inside a longer encoded text (a Kubernetes Secret's
 * data, echoed): one form per offset of the secret within a 3-byte group, each without the
 * first and last 4 characters, which also encode the bytes around it.
 */
function base64Forms(value: string): string[] {
  return [0, 1, 2].map((offset) => {
    const encoded = Buffer.concat([Buffer.alloc(offset), Buffer.from(value)]).toString('base64');
    return encoded.slice(offset === 0 ? 0 : 4, -4);
  });
}

/** Each secret as it is, and base64-encoded under the name `<name> (base64)`. */
function looks(secrets: readonly SweepSecret[]): SweepSecret[] {
  return secrets.flatMap((s) => [s, ...base64Forms(s.value).map((value) => ({ name: `${s.name} (base64)`, value }))]);
}

/** The names of the secrets `text` contains, as they are or base64-encoded. */
export function secretsIn(text: string, secrets: readonly SweepSecret[]): string[] {
  return [
    ...new Set(
      looks(secrets)
        .filter((s) => text.includes(s.value))
        .map((s) => s.name),
    ),
  ];
}

/** `text` with every secret (and its base64 forms) replaced by its name, so a report can quote where it was seen. */
export function redact(text: string, secrets: readonly SweepSecret[]): string {
  return looks(secrets).reduce((t, s) => t.split(s.value).join(`<${s.name}>`), text);
}

/**
 * A PEM private key as a sweep secret: its first line of base64 is unique to the key and is what
 * a leak would show, whole or in part.
 */
export function privateKeySecret(name: string, pem: string): SweepSecret | undefined {
  const lines = pem.split('\n').map((l) => l.trim());
  const begin = lines.findIndex((l) => /^-----BEGIN .*PRIVATE KEY-----$/.test(l));
  const body = begin < 0 ? undefined : lines.slice(begin + 1).find((l) => /^[A-Za-z0-9+/=]{40,}$/.test(l));
  return body === undefined ? undefined : { name, value: body };
}

function filesUnder(dir: string, depth: number): string[] {
  let entries;
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return [];
  }
  return entries.flatMap((e) => {
    const path = join(dir, e.name);
    if (e.isDirectory()) return depth > 0 ? filesUnder(path, depth - 1) : [];
    return e.isFile() ? [path] : [];
  });
}

/** The stack's generated secrets (state/secrets) and every PEM private key in its state folder. */
export function stackSecrets(stateDir: string): SweepSecret[] {
  const generated = filesUnder(join(stateDir, 'secrets'), 2).map((file) => ({
    name: file.slice(stateDir.length + 1),
    value: readFileSync(file, 'utf8').trim(),
  }));
  const keys = filesUnder(stateDir, 3)
    .filter((file) => /(\.key|key\.pem)$/.test(file) && statSync(file).size < 64 * 1024)
    .map((file) => privateKeySecret(file.slice(stateDir.length + 1), readFileSync(file, 'utf8')));
  const all = [...generated, ...keys].filter((s): s is SweepSecret => s !== undefined);
  return all.filter((s) => s.value.length >= MIN_SECRET_LENGTH);
}

export interface SweepSources {
  readonly stateDir: string;
  /** Called once the stack is up (start()). */
  readonly kubeConfig: () => KubeConfig;
  /** Called once the stack is up (start()). */
  readonly s3: () => S3Client;
  /** How often the process table is read (in a worker thread); 100 ms catches a tool that runs for a moment. */
  readonly sampleMs?: number;
  /** How often MinIO is listed for new metadata.json files (deleted ones must be seen first). */
  readonly bucketMs?: number;
}

/** Records from start() to finish(); finish() returns every hit and what was covered. */
export class SecretSweep {
  readonly hits: SweepHit[] = [];
  readonly counts: SweepCounts = {
    secrets: 0,
    logFiles: 0,
    logBytes: 0,
    events: 0,
    lifeboatObjects: 0,
    jobs: 0,
    metadataFiles: 0,
    processSamples: 0,
    commandLines: 0,
    toolEnvironments: 0,
    serverTools: 0,
  };
  private secrets: SweepSecret[];
  private readonly logOffsets = new Map<string, number>();
  private readonly seenMetadata = new Set<string>();
  private readonly watches: AbortController[] = [];
  private timers: NodeJS.Timeout[] = [];
  private sampler: ProcessSampler | undefined;
  private kube = new KubeConfig();
  private s3: S3Client | undefined;
  private listing: Promise<void> = Promise.resolve();
  private stopped = false;

  constructor(private readonly sources: SweepSources) {
    this.secrets = stackSecrets(sources.stateDir);
    this.counts.secrets = this.secrets.length;
  }

  /**
   * Starts reading the process table. It can start before the stack does (so the scripts that
   * start it are covered too): what it records is checked at finish(), against the secrets as
   * they are then.
   */
  startSampling(): void {
    this.sampler ??= new ProcessSampler(this.sources.sampleMs ?? 100);
  }

  /** Starts everything else; the stack must be up. */
  async start(): Promise<void> {
    this.kube = this.sources.kubeConfig();
    this.s3 = this.sources.s3();
    this.startSampling();
    this.markLogs();
    for (const watched of WATCHED_PATHS) this.watch(watched.path, watched.count);
    this.timers = [setInterval(() => this.listBucketsOnce(), this.sources.bucketMs ?? 5000).unref()];
  }

  async finish(): Promise<{ hits: SweepHit[]; counts: SweepCounts }> {
    this.stopped = true;
    const samples = await this.sampler?.stop();
    for (const t of this.timers) clearInterval(t);
    for (const w of this.watches) w.abort();
    this.listBucketsOnce();
    await this.listing;
    this.secrets = stackSecrets(this.sources.stateDir);
    this.counts.secrets = this.secrets.length;
    if (samples) this.checkProcesses(samples);
    await this.readLogs();
    return { hits: this.hits, counts: this.counts };
  }

  private check(text: string, where: () => string): void {
    for (const secret of secretsIn(text, this.secrets))
      this.hits.push({ secret, where: redact(where(), this.secrets) });
  }

  private watch(path: string, count: 'events' | 'lifeboatObjects' | 'jobs'): void {
    if (this.stopped) return;
    const onEvent = (type: string, object: unknown): void => {
      if (type === 'BOOKMARK' || type === 'ERROR') return;
      this.counts[count]++;
      this.check(JSON.stringify(object), () => `${path}: ${describeObject(object)}`);
    };
    // Started without a resourceVersion, each (re)start lists what exists first: nothing is missed
    // across the API server's periodic end of a watch, at the cost of seeing some objects twice.
    const restart = (): void => void setTimeout(() => this.watch(path, count), 200).unref();
    new Watch(this.kube)
      .watch(path, { allowWatchBookmarks: false }, onEvent, restart)
      .then((controller) => this.watches.push(controller))
      .catch(restart);
  }

  /** Checks what the sampler saw; public so a test can check a sample of its own. */
  checkProcesses(samples: ProcessSamples): void {
    this.counts.processSamples += samples.samples;
    this.counts.commandLines += samples.commandLines.size;
    this.counts.toolEnvironments += samples.toolEnvironments.size;
    this.counts.serverTools += samples.serverTools.size;
    for (const [cmdline, pid] of samples.commandLines)
      this.check(cmdline, () => `command line of process ${pid}: ${cmdline.split('\0').join(' ').trim()}`);
    for (const [tool, environ] of samples.toolEnvironments) {
      const [pid, comm] = tool.split(' ');
      this.check(environ, () => `environment of ${comm} (process ${pid})`);
    }
  }

  private listBucketsOnce(): void {
    this.listing = this.listing.then(() => this.readMetadataFiles()).catch(() => undefined);
  }

  private async readMetadataFiles(): Promise<void> {
    const s3 = this.s3;
    if (!s3) return;
    const buckets = (await s3.send(new ListBucketsCommand({}))).Buckets ?? [];
    for (const bucket of buckets) {
      if (!bucket.Name) continue;
      let token: string | undefined;
      do {
        const page = await s3.send(new ListObjectsV2Command({ Bucket: bucket.Name, ContinuationToken: token }));
        for (const object of page.Contents ?? []) await this.readMetadata(bucket.Name, object.Key, object.ETag);
        token = page.NextContinuationToken;
      } while (token);
    }
  }

  private async readMetadata(bucket: string, key: string | undefined, etag: string | undefined): Promise<void> {
    if (!key?.endsWith('metadata.json') || this.seenMetadata.has(`${bucket}/${key}/${etag}`)) return;
    this.seenMetadata.add(`${bucket}/${key}/${etag}`);
    const object = await this.s3?.send(new GetObjectCommand({ Bucket: bucket, Key: key })).catch(() => undefined);
    const text = await object?.Body?.transformToString();
    if (text === undefined) return;
    this.counts.metadataFiles++;
    this.check(text, () => `s3://${bucket}/${key}`);
  }

  /** Remembers how long each log is, so readLogs() looks only at what this run wrote. */
  markLogs(): void {
    for (const file of filesUnder(join(this.sources.stateDir, 'log'), 2))
      this.logOffsets.set(file, statSync(file).size);
  }

  /** What each log file gained since markLogs(); a file that shrank (truncated) is read whole. */
  async readLogs(): Promise<void> {
    for (const file of filesUnder(join(this.sources.stateDir, 'log'), 2)) {
      const size = statSync(file).size;
      const from = (this.logOffsets.get(file) ?? 0) <= size ? (this.logOffsets.get(file) ?? 0) : 0;
      const handle = await open(file, 'r');
      try {
        const buffer = Buffer.alloc(size - from);
        await handle.read(buffer, 0, buffer.length, from);
        this.counts.logFiles++;
        this.counts.logBytes += buffer.length;
        this.check(buffer.toString('utf8'), () => `log ${file.slice(this.sources.stateDir.length + 1)}`);
      } finally {
        await handle.close();
      }
    }
  }
}

function describeObject(object: unknown): string {
  const o = object as { kind?: string; metadata?: { namespace?: string; name?: string } };
  return `${o.kind ?? '?'} ${o.metadata?.namespace ?? ''}/${o.metadata?.name ?? '?'}`;
}

/** One line for the suite's output: what was covered and how many hits. */
export function sweepSummary(hits: readonly SweepHit[], c: SweepCounts): string {
  const mib = (c.logBytes / 1048576).toFixed(1);
  return (
    `secrets sweep: ${hits.length} hit(s) of ${c.secrets} secrets in ${c.logFiles} log files (${mib} MiB written ` +
    `during the run), ${c.events} Events, ${c.lifeboatObjects} Lifeboat object versions, ${c.jobs} Job versions, ` +
    `${c.metadataFiles} metadata.json, ${c.processSamples} process-table samples (${c.commandLines} distinct ` +
    `command lines, ${c.toolEnvironments} database-tool environments; ${c.serverTools} tools a database ` +
    `server ran for itself not checked)`
  );
}
