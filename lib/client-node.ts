// @kubernetes/client-node, loaded the first time a client is made rather than when a module that
// names it is imported. Evaluating it costs ~75 MiB and ~1 s (it builds every generated API and
// model), and the backup worker, which reaches lib/kube-client.ts only for its error classes (the
// status writer imports them) and talks to the API server through lib/kube-rest.ts, must not pay
// that. require() loads the ES module synchronously (Node >= 20.19, see engines in package.json),
// so KubeClient's constructor and fromEnvironment stay synchronous.
import { createRequire } from 'node:module';
import type * as ClientNode from '@kubernetes/client-node';

export type ClientNodeModule = typeof ClientNode;

const requireModule = createRequire(import.meta.url);
let loaded: ClientNodeModule | undefined;

export function clientNode(): ClientNodeModule {
  loaded ??= requireModule('@kubernetes/client-node') as ClientNodeModule;
  return loaded;
}

/** The module when something has loaded it; until then no error can be one of its ApiExceptions. */
export function clientNodeIfLoaded(): ClientNodeModule | undefined {
  return loaded;
}
