// The runner's allowlists (--allowed-endpoints, --allowed-db-hosts) as the worker receives them: in
// its environment, set by the runner for a worker process and by the Job builder for a worker Job,
// so the worker's re-check (backup-plan.ts) refuses what the webhook would.
import { parseHostPatterns } from '../../policies/host-patterns.js';
import type { PolicySettings } from '../../policies/policy-types.js';

export const ALLOWLIST_ENV = {
  endpoints: 'LIFEBOAT_ALLOWED_ENDPOINTS',
  databaseHosts: 'LIFEBOAT_ALLOWED_DB_HOSTS',
} as const;

/** The allowlists from the environment; a list that does not parse allows nothing rather than everything. */
export function allowlistSettings(env: NodeJS.ProcessEnv): Partial<PolicySettings> {
  const read = (name: string): readonly string[] | undefined => {
    const text = env[name];
    if (text === undefined || text.trim() === '') return undefined;
    try {
      return parseHostPatterns(text);
    } catch {
      return ['invalid-allowlist.invalid'];
    }
  };
  const endpoints = read(ALLOWLIST_ENV.endpoints);
  const hosts = read(ALLOWLIST_ENV.databaseHosts);
  return {
    ...(endpoints ? { allowedEndpoints: endpoints } : {}),
    ...(hosts ? { allowedDatabaseHosts: hosts } : {}),
  };
}

/** The environment entries that carry the lists to a worker; none when no list is set. */
export function allowlistEnv(settings: Partial<PolicySettings>): Record<string, string> {
  return {
    ...(settings.allowedEndpoints?.length ? { [ALLOWLIST_ENV.endpoints]: settings.allowedEndpoints.join(',') } : {}),
    ...(settings.allowedDatabaseHosts?.length
      ? { [ALLOWLIST_ENV.databaseHosts]: settings.allowedDatabaseHosts.join(',') }
      : {}),
  };
}
