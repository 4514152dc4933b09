/** Reading a Secret key for a provider (a token, a header value). The value never goes to logs or status. */
import type { KubeClient, KubeObject } from '../runtime/kube-client.js';
import { SECRET } from '../runtime/resources.js';
import type { SecretReader } from './types.js';

export function secretReader(client: KubeClient, namespace: string): SecretReader {
  return async (ref) => {
    const s = await client.get<KubeObject & { data?: Record<string, string> }>(SECRET, namespace, ref.name);
    const b64 = s.data?.[ref.key];
    if (b64 === undefined) throw new Error(`Secret ${namespace}/${ref.name} has no key ${ref.key}`);
    return Buffer.from(b64, 'base64').toString('utf8');
  };
}
