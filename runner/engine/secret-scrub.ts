// The last guard before text leaves the process (messages, logs, status): a database tool or
// driver could echo the password back, e.g. in an "unknown option" line.

export const REDACTED = '[redacted]';

/** `text` with every occurrence of each secret replaced; empty secrets are ignored. */
export function scrubSecrets(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const secret of secrets) {
    if (secret !== '') out = out.split(secret).join(REDACTED);
  }
  return out;
}
