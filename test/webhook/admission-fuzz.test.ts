// Property-based fuzzing of the admission path: whatever the API server (or anyone who can reach
// the webhook) sends, the answer is well-formed, deterministic, never a crash, and mutation only
// fills what the user left out. LIFEBOAT_FUZZ_RUNS sets the number of inputs (default 100000),
// LIFEBOAT_FUZZ_SEED replays a failure that fast-check reported.
import assert from 'node:assert/strict';
import { performance } from 'node:perf_hooks';
import { isDeepStrictEqual } from 'node:util';
import * as fc from 'fast-check';
import jsonPatch, { type Operation } from 'fast-json-patch';
import type { LifeboatObject } from '../../crds/kinds.js';
import { review, type ReviewResult } from '../../policies/engine.js';
import type { Neighbours, PolicySettings } from '../../policies/policy-types.js';
import { decode } from '../../policies/schema-check.js';
import { admit, type AdmissionMode } from '../../webhook/admission-adapter.js';
import {
  parseAdmissionReview,
  type AdmissionReview,
  type AdmissionReviewResponse,
} from '../../webhook/admission-review.js';
import { fakeNeighbours } from '../helpers.js';
import {
  admissionCase,
  anyDocument,
  envelopeCase,
  oldObjectFor,
  oldPlan,
  scheduleCase,
  settings as settingsArb,
  world,
} from './fuzz-arbitraries.js';

/** Each property's share of the inputs, in percent. */
const SHARES = { bodies: 10, envelopes: 20, objects: 40, mutateAllows: 5, schedules: 2, engine: 23 } as const;
type Part = keyof typeof SHARES;

function runsFromEnv(): number {
  const raw = process.env['LIFEBOAT_FUZZ_RUNS'] ?? '100000';
  const runs = Number(raw);
  if (!Number.isInteger(runs) || runs < 100)
    throw new Error(`LIFEBOAT_FUZZ_RUNS=${raw}: give a whole number of at least 100`);
  return runs;
}

function split(total: number): Record<Part, number> {
  const runs = {} as Record<Part, number>;
  for (const [part, percent] of Object.entries(SHARES)) runs[part as Part] = Math.floor((total * percent) / 100);
  runs.objects += total - Object.values(runs).reduce((a, b) => a + b, 0);
  return runs;
}

const TOTAL = runsFromEnv();
const RUNS = split(TOTAL);
const SEED = process.env['LIFEBOAT_FUZZ_SEED'] === undefined ? undefined : Number(process.env['LIFEBOAT_FUZZ_SEED']);

/**
 * One answer may take this long. Normal answers take well under a millisecond; the webhook's
 * timeoutSeconds is 5, and the API server fails the request (failurePolicy: Fail) after it.
 */
const ANSWER_BUDGET_MS = 1000;

/**
 * Mocha's limit for a property: generous per run, since the machine may be shared (a run takes
 * about 1 ms on a quiet 2-core machine, and was seen above 4 ms at a load of 10 there).
 */
function timeoutFor(runs: number): number {
  return 60_000 + runs * 10;
}

/**
 * fast-check stops 10 s before mocha would, so that a failure still reports its (partly shrunk)
 * counterexample; a run cut short without a failure fails too, rather than pass on fewer inputs.
 */
function params<T>(runs: number): fc.Parameters<T> {
  const limits = { numRuns: runs, interruptAfterTimeLimit: timeoutFor(runs) - 10_000, markInterruptAsFailure: true };
  return SEED === undefined ? limits : { ...limits, seed: SEED };
}

const PROBLEM_PREFIX = 'not an admission.k8s.io/v1 AdmissionReview';
const RFC6902_OPS = new Set(['add', 'remove', 'replace', 'move', 'copy', 'test']);

function timed<T>(what: string, run: () => T): T {
  const started = performance.now();
  const result = run();
  const took = performance.now() - started;
  assert.ok(took <= ANSWER_BUDGET_MS, `${what} took ${took.toFixed(0)} ms (budget ${ANSWER_BUDGET_MS} ms)`);
  return result;
}

/** Exactly one of {review} or {problem}, the problem in words that start the way the 400 says. */
function checkParsed(parsed: ReturnType<typeof parseAdmissionReview>): AdmissionReview | undefined {
  const keys = Object.keys(parsed).sort();
  assert.ok(keys.length === 1 && (keys[0] === 'review' || keys[0] === 'problem'), `parse gave ${keys.join(', ')}`);
  if ('review' in parsed) return parsed.review;
  assert.equal(typeof parsed.problem, 'string');
  assert.ok(parsed.problem.startsWith(PROBLEM_PREFIX), `problem: ${parsed.problem}`);
  assert.ok(parsed.problem.length > PROBLEM_PREFIX.length);
  return undefined;
}

function isContainer(value: unknown): value is Record<string | number, unknown> {
  return typeof value === 'object' && value !== null;
}

/** Every value the user wrote is still there, unchanged; containers may only have gained keys. */
function assertPreserved(before: unknown, after: unknown, where = ''): void {
  if (!isContainer(before)) {
    assert.ok(Object.is(before, after), `${where || '(root)'} changed from ${String(before)} to ${String(after)}`);
    return;
  }
  assert.ok(isContainer(after) && Array.isArray(after) === Array.isArray(before), `${where || '(root)'} replaced`);
  if (Array.isArray(before)) assert.equal(after['length'], before.length, `${where} changed length`);
  for (const key of Object.keys(before)) {
    assert.ok(Object.hasOwn(after, key), `${where}/${key} removed`);
    assertPreserved(before[key], after[key], `${where}/${key}`);
  }
}

/** The patch is base64 of a JSON array of RFC 6902 operations that applies to the request object. */
function checkPatch(object: unknown, patch: string): void {
  assert.match(patch, /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/, 'patch is not base64');
  const ops = JSON.parse(Buffer.from(patch, 'base64').toString('utf8')) as unknown;
  assert.ok(Array.isArray(ops) && ops.length > 0, 'patch is not a non-empty JSON array');
  for (const op of ops) {
    assert.ok(isContainer(op) && typeof op['op'] === 'string' && RFC6902_OPS.has(op['op']), JSON.stringify(op));
    assert.ok(typeof op['path'] === 'string' && (op['path'] === '' || op['path'].startsWith('/')));
  }
  assert.ok(isContainer(object), 'a patch for a request without an object');
  const patched = jsonPatch.applyPatch(structuredClone(object), ops as Operation[], true, true).newDocument;
  assertPreserved(object, patched);
}

/** The answer the API server can act on, whatever the question. */
function checkAnswer(input: AdmissionReview, mode: AdmissionMode, out: AdmissionReviewResponse): void {
  assert.equal(out.apiVersion, 'admission.k8s.io/v1');
  assert.equal(out.kind, 'AdmissionReview');
  const r = out.response;
  assert.equal(r.uid, input.request.uid);
  assert.equal(typeof r.allowed, 'boolean');
  if (!r.allowed) {
    assert.equal(r.status?.code, 403);
    const message = r.status?.message;
    assert.ok(typeof message === 'string' && message.length > 0, 'a denial without a message');
    assert.match(message, /\bLB\d{3}\b/, 'a denial that names no policy');
  }
  for (const w of r.warnings ?? []) assert.ok(typeof w === 'string' && w.length > 0, `warning ${JSON.stringify(w)}`);
  if (input.request.operation === 'DELETE') assert.equal(r.allowed, true, 'DELETE denied');
  if (mode === 'validate') {
    assert.equal(r.patch, undefined, 'validate answered with a patch');
    assert.equal(r.patchType, undefined);
    return;
  }
  // That mutate never denies is a property of its own (below), so that while it fails the other
  // checks still see every input.
  if (r.patch === undefined) assert.equal(r.patchType, undefined);
  else {
    assert.equal(r.patchType, 'JSONPatch');
    checkPatch(input.request.object, r.patch);
  }
}

/** A deep copy that keeps null prototypes (arbitrary bodies have them), unlike structuredClone. */
function snapshot<T>(value: T): T {
  if (!isContainer(value)) return value;
  if (Array.isArray(value)) return value.map(snapshot) as T;
  const copy = Object.create(Object.getPrototypeOf(value) as object | null) as Record<string, unknown>;
  for (const key of Object.keys(value)) {
    Object.defineProperty(copy, key, { value: snapshot(value[key]), enumerable: true, writable: true });
  }
  return copy as T;
}

/** Both modes, each twice: well-formed, the same both times, and the review left as it came. */
function checkAdmission(input: AdmissionReview, neighbours: Neighbours, settings: PolicySettings): void {
  const before = snapshot(input);
  for (const mode of ['mutate', 'validate'] as const) {
    const first = timed(`admit(${mode})`, () => admit(input, mode, neighbours, settings));
    checkAnswer(input, mode, first);
    const second = admit(input, mode, neighbours, settings);
    assert.deepStrictEqual(second, first, `admit(${mode}) answered differently the second time`);
  }
  assert.ok(isDeepStrictEqual(input, before), 'admit changed the review it was given');
}

function valueAt(root: unknown, path: readonly (string | number)[]): unknown {
  return path.reduce<unknown>((node, key) => (isContainer(node) ? node[key] : undefined), root);
}

const FINDING_POLICY = /^LB\d{3}$/;

function checkResult(doc: unknown, result: ReviewResult): void {
  for (const f of result.findings) {
    assert.match(f.policy, FINDING_POLICY);
    assert.ok(f.severity === 'deny' || f.severity === 'warn');
    assert.ok(typeof f.message === 'string' && f.message.length > 0, `${f.policy} without a message`);
    assert.ok(Array.isArray(f.path) && f.path.every((s) => typeof s === 'string' || typeof s === 'number'));
  }
  if (result.outcome !== 'reviewed') {
    assert.equal(result.object, undefined);
    assert.deepEqual(result.applied, []);
    if (result.outcome === 'foreign') assert.deepEqual(result.findings, []);
    else assert.ok(result.findings.length > 0 && result.findings.every((f) => f.severity === 'deny'));
    return;
  }
  assert.ok(result.object, 'reviewed without an object');
  assert.equal(decode(result.object).type, 'lifeboat', 'mutation made the object fail its schema');
  assertPreserved(doc, result.object);
  for (const a of result.applied) {
    const before = valueAt(doc, a.path);
    const after = valueAt(result.object, a.path);
    assert.equal(before, undefined, `${a.policy} overrode ${a.path.join('.')}`);
    assert.deepStrictEqual(after, a.value, `${a.policy} reported a value it did not set`);
  }
}

describe(`admission fuzz: ${TOTAL} generated inputs (LIFEBOAT_FUZZ_RUNS), none may throw`, () => {
  it(`arbitrary bodies (${RUNS.bodies} runs): parse is exactly one of review or problem, never throws`, function () {
    this.timeout(timeoutFor(RUNS.bodies));
    const body = fc.oneof(
      fc.jsonValue(),
      fc.anything({ withNullPrototype: true, maxDepth: 4 }),
      fc.record({ apiVersion: fc.jsonValue(), kind: fc.jsonValue(), request: fc.jsonValue() }, { requiredKeys: [] }),
    );
    fc.assert(
      fc.property(body, world, settingsArb, (b, w, s) => {
        const input = timed('parseAdmissionReview', () => checkParsed(parseAdmissionReview(b)));
        if (input) checkAdmission(input, fakeNeighbours(w), s);
      }),
      params(RUNS.bodies),
    );
  });

  it(`broken envelopes (${RUNS.envelopes} runs): refused exactly when broken, otherwise well answered`, function () {
    this.timeout(timeoutFor(RUNS.envelopes));
    fc.assert(
      fc.property(envelopeCase, ({ body, breaks, world: w, settings: s }) => {
        const input = checkParsed(parseAdmissionReview(body));
        assert.equal(input === undefined, breaks, breaks ? 'a broken envelope was accepted' : 'a valid one refused');
        if (input) checkAdmission(input, fakeNeighbours(w), s);
      }),
      params(RUNS.envelopes),
    );
  });

  it(
    `Lifeboat objects (${RUNS.objects} runs): well-formed, deterministic answers; ` +
      'mutate only fills absent fields; DELETE allowed',
    function () {
      this.timeout(timeoutFor(RUNS.objects));
      fc.assert(
        fc.property(admissionCase, ({ body, world: w, settings: s }) => {
          const input = checkParsed(parseAdmissionReview(body));
          assert.ok(input, 'a well-formed review was refused');
          checkAdmission(input, fakeNeighbours(w), s);
        }),
        params(RUNS.objects),
      );
    },
  );

  it(`mutate never denies (${RUNS.mutateAllows} runs): denying is the validating call's job`, function () {
    this.timeout(timeoutFor(RUNS.mutateAllows));
    fc.assert(
      fc.property(admissionCase, ({ body, world: w, settings: s }) => {
        const input = checkParsed(parseAdmissionReview(body));
        assert.ok(input, 'a well-formed review was refused');
        const out = admit(input, 'mutate', fakeNeighbours(w), s).response;
        assert.equal(out.allowed, true, `mutate denied: ${out.status?.message}`);
      }),
      params(RUNS.mutateAllows),
    );
  });

  it(`schedules (${RUNS.schedules} runs): answered within ${ANSWER_BUDGET_MS} ms, typos included`, function () {
    this.timeout(timeoutFor(RUNS.schedules));
    fc.assert(
      fc.property(scheduleCase, ({ body, world: w, settings: s }) => {
        const input = checkParsed(parseAdmissionReview(body));
        assert.ok(input, 'a well-formed review was refused');
        checkAdmission(input, fakeNeighbours(w), s);
      }),
      // Every shrinking step that still fails costs more than the budget: report the first failure.
      { ...params(RUNS.schedules), endOnFailure: true },
    );
  });

  it(
    `engine review (${RUNS.engine} runs): coherent outcome, fills only absent fields, ` +
      'schema-valid, idempotent, deterministic',
    function () {
      this.timeout(timeoutFor(RUNS.engine));
      const engineCase = fc.record({
        doc: anyDocument,
        old: oldPlan,
        operation: fc.constantFrom('CREATE' as const, 'UPDATE' as const),
        world,
        settings: settingsArb,
      });
      fc.assert(
        fc.property(engineCase, (c) => {
          const decodedOld = decode(oldObjectFor(c.old, c.doc));
          const old: LifeboatObject | undefined = decodedOld.type === 'lifeboat' ? decodedOld.object : undefined;
          const neighbours = fakeNeighbours(c.world);
          const before = snapshot(c.doc);
          const run = (document: unknown): ReviewResult =>
            review({ document, old, operation: c.operation, neighbours, settings: c.settings });
          const result = timed('review', () => run(c.doc));
          checkResult(c.doc, result);
          assert.ok(isDeepStrictEqual(c.doc, before), 'review changed the document it was given');
          assert.deepStrictEqual(run(c.doc), result, 'review answered differently the second time');
          if (result.object) {
            const mutated = structuredClone(result.object);
            const again = run(mutated);
            assert.deepEqual(again.applied, [], 'mutation is not idempotent');
            assert.deepStrictEqual(again.object, mutated);
          }
        }),
        params(RUNS.engine),
      );
    },
  );
});
