/** Kubeconfig files for the local control plane: the admin identity and token identities. */
import { stringify } from 'yaml';

export interface KubeconfigUser {
  clientCertificateData?: string;
  clientKeyData?: string;
  token?: string;
}

export function kubeconfigYaml(opts: {
  server: string;
  caData: string;
  user: KubeconfigUser;
  namespace?: string;
  name?: string;
}): string {
  const name = opts.name ?? 'cutover-local';
  const user: Record<string, string> = {};
  if (opts.user.clientCertificateData) user['client-certificate-data'] = opts.user.clientCertificateData;
  if (opts.user.clientKeyData) user['client-key-data'] = opts.user.clientKeyData;
  if (opts.user.token) user.token = opts.user.token;
  return stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name, cluster: { server: opts.server, 'certificate-authority-data': opts.caData } }],
    users: [{ name, user }],
    contexts: [
      {
        name,
        context: { cluster: name, user: name, ...(opts.namespace ? { namespace: opts.namespace } : {}) },
      },
    ],
    'current-context': name,
  });
}
