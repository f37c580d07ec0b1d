// Assertions the e2e tests share: API refusals and kubectl tables.
import assert from 'node:assert/strict';
import { ApiException } from '@kubernetes/client-node';

/** The call must fail with this HTTP status and a message containing `text` (e.g. a rule ID). */
export async function assertRefused(call: Promise<unknown>, code: number, text: string): Promise<string> {
  let err: unknown;
  try {
    await call;
  } catch (e) {
    err = e;
  }
  assert.ok(err !== undefined, `expected a refusal containing ${JSON.stringify(text)}, but the call succeeded`);
  assert.ok(err instanceof ApiException, `expected an API error, got ${String(err)}`);
  const message = statusMessage(err.body);
  assert.equal(err.code, code, `HTTP status (message: ${message})`);
  assert.ok(message.includes(text), `expected ${JSON.stringify(text)} in the refusal: ${message}`);
  return message;
}

/**
 * Every field of `written` is in `stored` with the same value: nothing pruned or overridden, while
 * fields the mutating webhook filled in (absent from `written`) are allowed.
 */
export function assertKeptAsWritten(stored: unknown, written: unknown, path = 'spec'): void {
  if (typeof written !== 'object' || written === null || Array.isArray(written)) {
    assert.deepEqual(stored, written, `${path} is stored as written`);
    return;
  }
  assert.ok(typeof stored === 'object' && stored !== null, `${path} is stored`);
  for (const [key, value] of Object.entries(written)) {
    assertKeptAsWritten((stored as Record<string, unknown>)[key], value, `${path}.${key}`);
  }
}

/** The `message` of a Kubernetes Status body, or the raw body. */
function statusMessage(body: unknown): string {
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  try {
    const status = JSON.parse(text) as { message?: unknown };
    return typeof status.message === 'string' ? status.message : text;
  } catch {
    return text;
  }
}

export interface Table {
  columns: string[];
  rows: Record<string, string>[];
}

/**
 * Parses kubectl's table output: one table per resource type, separated by blank lines. Cells
 * are cut at the header's column offsets, because cells can be empty or contain single spaces
 * ("0 3 * * *", "LAST BACKUP"); columns are separated by at least two spaces.
 */
export function parseTables(out: string): Table[] {
  return out
    .split(/\n\s*\n/)
    .map((block) => block.split('\n').filter((l) => l.trim() !== ''))
    .filter((lines) => lines.length > 0)
    .map(([header = '', ...lines]) => {
      const starts = [...header.matchAll(/(?:^|\s{2,})(\S+(?: \S+)*)/g)].map((m) => m.index + m[0].indexOf(m[1] ?? ''));
      const columns = starts.map((s, i) => header.slice(s, starts[i + 1]).trim());
      const rows = lines.map((line) =>
        Object.fromEntries(columns.map((c, i) => [c, line.slice(starts[i], starts[i + 1]).trim()])),
      );
      return { columns, rows };
    });
}

/** The table whose first row is named `<kind>.lifeboat.dev/...` (or the only table). */
export function tableFor(tables: Table[], resource: string): Table {
  const table = tables.find((t) => t.rows.some((r) => (r.NAME ?? '').startsWith(`${resource}/`)));
  assert.ok(table, `no table for ${resource} in kubectl output: ${JSON.stringify(tables.map((t) => t.columns))}`);
  return table;
}
