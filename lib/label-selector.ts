// Label selectors built from their structure, never from a user's joined string: every key and
// value is checked against the Kubernetes label syntax first, so no value can smuggle in another
// requirement ("db,role!=writer") or close a set ("a),(b"). The only way to a selector query.

/** A label selector as the API types it (matchLabels and matchExpressions). */
export interface LabelSelectorSpec {
  readonly matchLabels?: Readonly<Record<string, string>> | undefined;
  readonly matchExpressions?:
    | readonly {
        readonly key: string;
        readonly operator: 'In' | 'NotIn' | 'Exists' | 'DoesNotExist';
        readonly values?: readonly string[] | undefined;
      }[]
    | undefined;
}

declare const checked: unique symbol;
/** A labelSelector query string made by labelSelectorQuery from checked parts. */
export type LabelSelectorQuery = string & { readonly [checked]: true };

/** A selector that is not valid label syntax; the message names the part. */
export class InvalidLabelSelectorError extends Error {}

const NAME = /^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

function checkKey(key: string): void {
  const slash = key.indexOf('/');
  const prefix = slash === -1 ? undefined : key.slice(0, slash);
  const name = slash === -1 ? key : key.slice(slash + 1);
  const prefixOk = prefix === undefined || (prefix.length <= 253 && DNS_SUBDOMAIN.test(prefix));
  if (!prefixOk || name.length > 63 || !NAME.test(name))
    throw new InvalidLabelSelectorError(
      `label key ${JSON.stringify(key)} is not valid: [prefix/]name, the name at most 63 of [A-Za-z0-9-_.] starting and ending alphanumeric`,
    );
}

function checkValue(key: string, value: string): void {
  if (value === '' || (value.length <= 63 && NAME.test(value))) return;
  throw new InvalidLabelSelectorError(
    `label value ${JSON.stringify(value)} (key ${key}) is not valid: at most 63 of [A-Za-z0-9-_.], starting and ending alphanumeric`,
  );
}

type Expression = NonNullable<LabelSelectorSpec['matchExpressions']>[number];

function expression(e: Expression): string {
  checkKey(e.key);
  const values = e.values ?? [];
  if (e.operator === 'Exists' || e.operator === 'DoesNotExist') {
    if (values.length > 0) throw new InvalidLabelSelectorError(`${e.operator} on ${e.key} takes no values`);
    return e.operator === 'Exists' ? e.key : `!${e.key}`;
  }
  if (values.length === 0) throw new InvalidLabelSelectorError(`${e.operator} on ${e.key} needs at least one value`);
  values.forEach((v) => checkValue(e.key, v));
  return `${e.key} ${e.operator === 'In' ? 'in' : 'notin'} (${values.join(',')})`;
}

/**
 * The labelSelector query for a selector, after checking every part. An empty selector, which
 * the API would take to mean every pod of the namespace, is refused.
 */
export function labelSelectorQuery(selector: LabelSelectorSpec): LabelSelectorQuery {
  const labels = Object.entries(selector.matchLabels ?? {})
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([key, value]) => {
      checkKey(key);
      checkValue(key, value);
      return `${key}=${value}`;
    });
  const parts = [...labels, ...(selector.matchExpressions ?? []).map(expression)];
  if (parts.length === 0)
    throw new InvalidLabelSelectorError('the selector is empty, which would select every pod of the namespace');
  return parts.join(',') as LabelSelectorQuery;
}
