// The JSONPatch a mutating answer carries: from the object as sent to the object as mutated.
//
// Op for op what fast-json-patch's compare() gives, so answers do not change with it, without its
// deep copy of every added value (a JSON round trip each): the ops are serialized at once, and
// mutation never writes into the objects it shares with the request or the lookup cache.

export type PatchOperation =
  | { readonly op: 'add' | 'replace'; readonly path: string; readonly value: unknown }
  | { readonly op: 'remove'; readonly path: string };

type Node = Record<string, unknown> | unknown[];

function escapeKey(key: string): string {
  if (!key.includes('/') && !key.includes('~')) return key;
  return key.replace(/~/g, '~0').replace(/\//g, '~1');
}

/** Every index of an array, holes included. */
function keysOf(node: Node): string[] {
  if (!Array.isArray(node)) return Object.keys(node);
  const keys: string[] = [];
  for (let i = 0; i < node.length; i++) keys.push(String(i));
  return keys;
}

const hasOwn = (node: Node, key: string): boolean => Object.prototype.hasOwnProperty.call(node, key);

function isNode(value: unknown): value is Node {
  return typeof value === 'object' && value !== null;
}

/** An array hole or undefined member goes out as null, as JSON.stringify writes it in an array. */
function asValue(value: unknown): unknown {
  return value === undefined ? null : value;
}

/** An undefined member of an object counts as gone; of an array, as still there. */
function stillThere(now: Node, key: string, was: unknown, is: unknown): boolean {
  return hasOwn(now, key) && !(is === undefined && was !== undefined && !Array.isArray(now));
}

/** The ops for one key of `before`; true when it was removed. */
function diffKey(before: Node, now: Node, key: string, at: string, ops: PatchOperation[]): boolean {
  const was = (before as Record<string, unknown>)[key];
  const is = (now as Record<string, unknown>)[key];
  const path = `${at}/${escapeKey(key)}`;
  if (stillThere(now, key, was, is)) {
    if (isNode(was) && isNode(is) && Array.isArray(was) === Array.isArray(is)) diffInto(was, is, path, ops);
    else if (was !== is) ops.push({ op: 'replace', path, value: asValue(is) });
    return false;
  }
  if (Array.isArray(before) === Array.isArray(now)) {
    ops.push({ op: 'remove', path });
    return true;
  }
  ops.push({ op: 'replace', path: at, value: now });
  return false;
}

function diffInto(before: Node, after: Node, at: string, ops: PatchOperation[]): void {
  if (before === after) return;
  const toJSON = (after as { toJSON?: unknown }).toJSON;
  const now = typeof toJSON === 'function' ? (toJSON.call(after) as Node) : after;
  const oldKeys = keysOf(before);
  const newKeys = keysOf(now);
  let removed = false;
  // Backwards, as compare() goes, so that removed array members leave the indices to come in place.
  for (let i = oldKeys.length - 1; i >= 0; i--) {
    if (diffKey(before, now, oldKeys[i] as string, at, ops)) removed = true;
  }
  if (!removed && newKeys.length === oldKeys.length) return;
  for (const key of newKeys) {
    const is = (now as Record<string, unknown>)[key];
    if (!hasOwn(before, key) && is !== undefined) ops.push({ op: 'add', path: `${at}/${escapeKey(key)}`, value: is });
  }
}

/** The ops that turn `before` into `after`; values are shared with `after`, not copied. */
export function patchOperations(before: object, after: object): PatchOperation[] {
  const ops: PatchOperation[] = [];
  diffInto(before as Node, after as Node, '', ops);
  return ops;
}
