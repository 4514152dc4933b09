/**
 * What the caller may do, asked of the API server with the caller's own identity: a
 * SelfSubjectAccessReview per (verb, resource, namespace), remembered for a short while, and the
 * caller's user name from a SelfSubjectReview (for `cutover.nokta.io/approved-by`). The page shows
 * action buttons only where the answer is yes; RBAC decides again on every action anyway.
 */
import { CRD_GROUP } from '../api/crds.js';
import type { KubeClient } from '../runtime/kube-client.js';

export interface Permissions {
  /** patch cutovers in the namespace: approve, pause, resume, roll back. */
  cutover: boolean;
  /** patch canaryphases in the namespace: approve a gate, pause, resume, promote, abort. */
  canaryPhase: boolean;
}

interface AccessReview {
  status?: { allowed?: boolean; reason?: string };
}
interface SelfSubjectReview {
  status?: { userInfo?: { username?: string } };
}

const TTL_MS = 30_000;

export class AccessChecker {
  private readonly answers = new Map<string, { at: number; allowed: Promise<boolean> }>();
  private user: Promise<string> | undefined;

  constructor(private readonly client: KubeClient) {}

  private can(verb: string, resource: string, namespace: string): Promise<boolean> {
    const key = `${verb} ${resource} ${namespace}`;
    const known = this.answers.get(key);
    if (known && Date.now() - known.at < TTL_MS) return known.allowed;
    const allowed = this.client
      .request<AccessReview>('POST', '/apis/authorization.k8s.io/v1/selfsubjectaccessreviews', {
        body: {
          apiVersion: 'authorization.k8s.io/v1',
          kind: 'SelfSubjectAccessReview',
          spec: { resourceAttributes: { group: CRD_GROUP, resource, verb, namespace } },
        },
      })
      .then((r) => r.status?.allowed === true)
      .catch(() => false);
    this.answers.set(key, { at: Date.now(), allowed });
    return allowed;
  }

  async permissions(namespace: string): Promise<Permissions> {
    const [cutover, canaryPhase] = await Promise.all([
      this.can('patch', 'cutovers', namespace),
      this.can('patch', 'canaryphases', namespace),
    ]);
    return { cutover, canaryPhase };
  }

  /** The caller's user name as the API server authenticated it ('unknown' when it cannot say). */
  userName(): Promise<string> {
    this.user ??= this.client
      .request<SelfSubjectReview>('POST', '/apis/authentication.k8s.io/v1/selfsubjectreviews', {
        body: { apiVersion: 'authentication.k8s.io/v1', kind: 'SelfSubjectReview' },
      })
      .then((r) => r.status?.userInfo?.username ?? 'unknown')
      .catch(() => 'unknown');
    return this.user;
  }
}
