// Host patterns for the allowlists of object-store endpoints and database hosts (webhook, runner
// and `lifeboat check` flags). Deliberately small: a pattern is a host name or IP compared exactly
// (case-insensitive), `*.example.com` for any name below example.com, or `*` for any host. No
// regular expressions: a pattern an operator writes should mean what it looks like.

/** Why a pattern cannot be used, or undefined when it can. */
export function hostPatternProblem(pattern: string): string | undefined {
  if (pattern === '*') return undefined;
  const rest = pattern.startsWith('*.') ? pattern.slice(2) : pattern;
  if (rest === '' || !/^[A-Za-z0-9.:[\]_-]+$/.test(rest) || rest.includes('*')) {
    return `"${pattern}" is not a host pattern; write a host name or IP, *.domain for its subdomains, or *`;
  }
  return undefined;
}

/** Whether `host` matches one of the patterns. */
export function hostMatches(host: string, patterns: readonly string[]): boolean {
  const name = host.toLowerCase().replace(/\.$/, '');
  return patterns.some((raw) => {
    const pattern = raw.toLowerCase();
    if (pattern === '*') return true;
    if (pattern.startsWith('*.')) return name.endsWith(pattern.slice(1)) && name.length > pattern.length - 1;
    return name === pattern;
  });
}

/** Splits a comma-separated flag value into patterns; throws the first problem. */
export function parseHostPatterns(text: string): string[] {
  const patterns = text
    .split(',')
    .map((p) => p.trim())
    .filter((p) => p !== '');
  for (const p of patterns) {
    const problem = hostPatternProblem(p);
    if (problem) throw new RangeError(problem);
  }
  return patterns;
}
