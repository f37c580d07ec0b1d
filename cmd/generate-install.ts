// The Helm chart's generated files, made from the kustomize trees so that the two installs cannot
// drift apart: the manifests are written once, as plain YAML for `kubectl apply -k`
// (webhook/manifests, deploy/kustomize), and each becomes a chart template by a few exact text
// edits (image, replicas, the TLS choice, the worker namespaces). An edit whose text is no longer
// in its source fails `npm run generate`, naming it, instead of leaving a value unset in the chart.
import { readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { parse, stringify } from 'yaml';
import { renderCrdFiles, type GeneratedFile } from '../crds/crd-render.js';
import { PACKAGE_ROOT, packageVersion } from '../policies/cli/package-paths.js';

export const CHART_DIR = 'deploy/helm/lifeboat';
const WEBHOOK_TREES = 'webhook/manifests';
const RUNNER_TREE = 'deploy/kustomize/runner';
const WORKER_NAMESPACE_FILE = 'deploy/kustomize/worker-namespace/worker-namespace.yaml';

/** A template's source file no longer holds the text an edit replaces. */
export class ChartEditError extends Error {
  readonly reason = 'ChartEditStale';
}

/** How a kustomization lists what it installs and changes. */
interface Kustomization {
  resources?: string[];
  patches?: { path?: string; target?: { kind?: string } }[];
}

/** One JSON patch operation of an overlay's patch file (webhook/manifests/<overlay>/*-patch.yaml). */
interface PatchOp {
  op: string;
  path: string;
  value: unknown;
}

type Edit = readonly [find: string, replace: string];

const IMAGE = 'lifeboat:0.1.0';
const IMAGE_TEMPLATE = '{{ include "lifeboat.image" . }}';
const CERT_MANAGER = 'eq .Values.webhook.tls "cert-manager"';
const SELF_SIGNED = 'eq .Values.webhook.tls "self-signed"';

function read(path: string): string {
  return readFileSync(join(PACKAGE_ROOT, path), 'utf8');
}

function kustomization(dir: string): Kustomization {
  return parse(read(join(dir, 'kustomization.yaml'))) as Kustomization;
}

/** The resource files a kustomization installs, directories followed; `skip` leaves out bases. */
function resourceFiles(dir: string, skip: readonly string[] = []): string[] {
  return (kustomization(dir).resources ?? [])
    .filter((r) => !skip.includes(r))
    .flatMap((r) => (r.endsWith('.yaml') ? [join(dir, r)] : resourceFiles(join(dir, r))));
}

function applyEdits(source: string, text: string, edits: readonly Edit[]): string {
  let out = text;
  for (const [find, replace] of edits) {
    if (!out.includes(find)) {
      throw new ChartEditError(
        `${source} no longer contains ${JSON.stringify(find)}; update the chart edits in cmd/generate-install.ts to match it`,
      );
    }
    out = out.split(find).join(replace);
  }
  return out;
}

function indentLines(text: string, spaces: number): string {
  const pad = ' '.repeat(spaces);
  return text
    .trimEnd()
    .split('\n')
    .map((line) => pad + line)
    .join('\n');
}

/** The values an overlay's JSON patch appends to each list of the Deployment (`.../args/-`). */
function appendedValues(patchFile: string): Map<string, unknown[]> {
  const lists = new Map<string, unknown[]>();
  for (const op of parse(read(patchFile)) as PatchOp[]) {
    if (op.op !== 'add' || !op.path.endsWith('/-')) {
      throw new ChartEditError(
        `${patchFile}: only "add" to the end of a list (path …/-) becomes chart text; got ${op.op} ${op.path}`,
      );
    }
    const list = op.path.slice(0, -2);
    lists.set(list, [...(lists.get(list) ?? []), op.value]);
  }
  return lists;
}

/** Where each list of the webhook Deployment ends in its source, and how deep its items sit. */
const LIST_ENDS: Readonly<Record<string, { after: string; indent: number }>> = {
  '/spec/template/spec/containers/0/args': { after: '            - --listen=0.0.0.0:9443\n', indent: 12 },
  '/spec/template/spec/containers/0/volumeMounts': { after: '              mountPath: /tmp\n', indent: 12 },
  '/spec/template/spec/volumes': { after: '            sizeLimit: 16Mi\n', indent: 8 },
};

/** Edits that put each overlay's Deployment patch into the template, behind its TLS choice. */
function tlsDeploymentEdits(): Edit[] {
  const byList = new Map<string, string>();
  for (const [overlay, condition] of [
    ['self-signed', SELF_SIGNED],
    ['cert-manager', CERT_MANAGER],
  ] as const) {
    for (const [list, values] of appendedValues(`${WEBHOOK_TREES}/${overlay}/deployment-patch.yaml`)) {
      const end = LIST_ENDS[list];
      if (!end)
        throw new ChartEditError(
          `${WEBHOOK_TREES}/${overlay}/deployment-patch.yaml appends to ${list}, which the chart does not know`,
        );
      const block = `{{- if ${condition} }}\n${indentLines(stringify(values), end.indent)}\n{{- end }}\n`;
      byList.set(list, (byList.get(list) ?? end.after) + block);
    }
  }
  return [...byList].map(([list, replace]) => [LIST_ENDS[list]?.after ?? '', replace] as const);
}

/** The annotations cert-manager's CA injector reads, from the overlay's patch of the configurations. */
function injectCaEdit(): Edit {
  const patch = parse(read(`${WEBHOOK_TREES}/cert-manager/inject-ca-patch.yaml`)) as {
    metadata: { annotations: Record<string, string> };
  };
  const annotations = indentLines(stringify({ annotations: patch.metadata.annotations }), 2);
  return ['  name: lifeboat\n', `  name: lifeboat\n{{- if ${CERT_MANAGER} }}\n${annotations}\n{{- end }}\n`];
}

interface TemplateSource {
  readonly source: string;
  readonly edits: readonly Edit[];
  /** Rendered only when this Helm condition holds. */
  readonly when?: string;
}

function templateSources(): TemplateSource[] {
  const image: Edit[] = [[`image: ${IMAGE}`, `image: ${IMAGE_TEMPLATE}`]];
  const webhook = resourceFiles(`${WEBHOOK_TREES}/base`).map((source): TemplateSource => {
    if (source.endsWith('/deployment.yaml')) {
      return {
        source,
        edits: [...image, ['  replicas: 2\n', '  replicas: {{ .Values.webhook.replicas }}\n'], ...tlsDeploymentEdits()],
      };
    }
    if (source.includes('/webhook-configurations/')) return { source, edits: [injectCaEdit()] };
    return { source, edits: [] };
  });
  const overlay = (name: string, when: string): TemplateSource[] =>
    resourceFiles(`${WEBHOOK_TREES}/${name}`, ['../base']).map((source) => ({ source, edits: [], when }));
  const runner = resourceFiles(RUNNER_TREE).map((source): TemplateSource =>
    source.endsWith('/deployment.yaml')
      ? {
          source,
          edits: [
            ...image,
            [`--image=${IMAGE}`, `--image=${IMAGE_TEMPLATE}`],
            ['  replicas: 2\n', '  replicas: {{ .Values.runner.replicas }}\n'],
          ],
        }
      : { source, edits: [] },
  );
  return [...webhook, ...overlay('self-signed', SELF_SIGNED), ...overlay('cert-manager', CERT_MANAGER), ...runner];
}

/** templates/<component>-<file>: webhook/manifests/base/rbac.yaml → webhook-rbac.yaml. */
function templateName(source: string): string {
  const parts = source.split('/');
  const file = parts[parts.length - 1] ?? source;
  if (source.startsWith(RUNNER_TREE)) return `runner-${file}`;
  const overlay = parts[2];
  if (overlay === 'base')
    return file === 'namespace.yaml' ? file : `webhook-${file.replace('-webhook-configuration', '-configuration')}`;
  return `webhook-${overlay}-${file}`;
}

function header(source: string): string {
  return `{{- /* Generated by \`npm run generate\` from ${source}; edit that file (or cmd/generate-install.ts). */}}\n`;
}

function chartTemplate(t: TemplateSource): GeneratedFile {
  const body = applyEdits(t.source, read(t.source), t.edits);
  const content = t.when ? `{{- if ${t.when} }}\n${body}{{- end }}\n` : body;
  return { path: `${CHART_DIR}/templates/${templateName(t.source)}`, content: header(t.source) + content };
}

/** One copy of the service account and the two bindings per namespace in .Values.workerNamespaces. */
function workerNamespacesTemplate(): GeneratedFile {
  const body = applyEdits(WORKER_NAMESPACE_FILE, read(WORKER_NAMESPACE_FILE), [
    // The subject's line first: the metadata's is a suffix of it.
    ['    namespace: default\n', '    namespace: {{ $namespace }}\n'],
    ['  namespace: default\n', '  namespace: {{ $namespace }}\n'],
  ]);
  return {
    path: `${CHART_DIR}/templates/worker-namespaces.yaml`,
    content: `${header(WORKER_NAMESPACE_FILE)}{{- range $namespace := .Values.workerNamespaces }}\n---\n${body}{{- end }}\n`,
  };
}

/** The CRDs in the chart's crds/ (Helm installs them from there), and a kustomization listing them. */
function chartCrds(): GeneratedFile[] {
  const crds = renderCrdFiles().map((f) => ({ ...f, path: `${CHART_DIR}/${f.path}` }));
  const names = crds.map((f) => relative(`${CHART_DIR}/crds`, f.path));
  const kustomizationFile = [
    '# Generated by `npm run generate`: the CRDs for deploy/kustomize (Helm ignores this file, see .helmignore).',
    stringify({ apiVersion: 'kustomize.config.k8s.io/v1beta1', kind: 'Kustomization', resources: names }),
  ].join('\n');
  return [...crds, { path: `${CHART_DIR}/crds/kustomization.yaml`, content: kustomizationFile }];
}

function chartYaml(): GeneratedFile {
  const version = packageVersion();
  const chart = {
    apiVersion: 'v2',
    name: 'lifeboat',
    description: 'Backup and recovery for MySQL-family databases on Kubernetes: CRDs, admission webhook, runner',
    type: 'application',
    version,
    appVersion: version,
  };
  return {
    path: `${CHART_DIR}/Chart.yaml`,
    content: `# Generated by \`npm run generate\` from package.json.\n${stringify(chart)}`,
  };
}

export function installFiles(): GeneratedFile[] {
  return [chartYaml(), ...chartCrds(), ...templateSources().map(chartTemplate), workerNamespacesTemplate()];
}
