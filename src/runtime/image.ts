/**
 * The one image value of the operator: the image of the Jobs it runs itself (reconciliation
 * shards), resolved once when the operator starts, never when a module is imported.
 *
 * 1. `--image` / `CUTOVER_IMAGE` when set;
 * 2. else the image of the operator's own container, read from its Pod (`POD_NAME` and
 *    `POD_NAMESPACE` from the downward API): the Deployment names the image once, and kustomize's
 *    `images:` or a Helm value changes it in one place;
 * 3. else `ghcr.io/nokta/cutover-operator:<version of package.json>`.
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { KubeClient, KubeObject } from './kube-client.js';
import { POD } from './resources.js';

export const IMAGE_REPOSITORY = 'ghcr.io/nokta/cutover-operator';
/** The operator's container in deploy/operator/deployment.yaml. */
export const OPERATOR_CONTAINER = 'operator';

/** The version in package.json (beside dist/ in the repository and in the image). */
export function operatorVersion(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i++) {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as {
        name?: string;
        version?: string;
      };
      if (pkg.name === 'cutover-operator' && pkg.version) return pkg.version;
    } catch {
      /* not here */
    }
    dir = dirname(dir);
  }
  return 'latest';
}

export function defaultImage(): string {
  return `${IMAGE_REPOSITORY}:${operatorVersion()}`;
}

export interface ResolvedImage {
  image: string;
  source: 'flag' | 'pod' | 'default';
}

type Pod = KubeObject & { spec?: { containers?: Array<{ name: string; image?: string }> } };

export async function resolveImage(
  explicit: string | undefined,
  client: KubeClient,
  env: NodeJS.ProcessEnv = process.env,
): Promise<ResolvedImage> {
  if (explicit) return { image: explicit, source: 'flag' };
  const name = env.POD_NAME;
  const namespace = env.POD_NAMESPACE;
  if (name && namespace) {
    const pod = await client.tryGet<Pod>(POD, namespace, name);
    const containers = pod?.spec?.containers ?? [];
    const own = containers.find((c) => c.name === OPERATOR_CONTAINER) ?? containers[0];
    if (own?.image) return { image: own.image, source: 'pod' };
  }
  return { image: defaultImage(), source: 'default' };
}
