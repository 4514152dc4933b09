/**
 * Our kinds' names against the names kubectl already resolves in common clusters. kubectl expands
 * a category before it looks at resource names, and a short name before a singular/plural, so a
 * clash makes `kubectl get/delete <word>` act on the wrong kind: with the category `cutover`,
 * `kubectl delete cutover X` also deleted the CanaryPhase and the Reconciliation named X; `co` is
 * OpenShift's ClusterOperator and `canary` is Flagger's Canary.
 *
 * The checked list: plurals, singulars, short names and categories of core Kubernetes and of the
 * projects a cluster running this operator is likely to have (from their CRDs).
 */
import assert from 'node:assert/strict';
import { CATEGORY, KINDS } from '../../../src/api/crds.js';

export const KNOWN_NAMES: Record<string, string[]> = {
  'core Kubernetes': [
    'all', 'bindings', 'componentstatuses', 'cs', 'configmaps', 'cm', 'endpoints', 'ep', 'events', 'ev', 'limitranges', 'limits',
    'namespaces', 'ns', 'nodes', 'no', 'persistentvolumeclaims', 'pvc', 'persistentvolumes', 'pv', 'pods', 'po', 'podtemplates',
    'replicationcontrollers', 'rc', 'resourcequotas', 'quota', 'secrets', 'serviceaccounts', 'sa', 'services', 'svc',
    'mutatingwebhookconfigurations', 'validatingwebhookconfigurations', 'customresourcedefinitions', 'crd', 'crds',
    'apiservices', 'controllerrevisions', 'daemonsets', 'ds', 'deployments', 'deploy', 'replicasets', 'rs', 'statefulsets', 'sts',
    'tokenreviews', 'horizontalpodautoscalers', 'hpa', 'cronjobs', 'cj', 'jobs', 'certificatesigningrequests', 'csr', 'leases',
    'endpointslices', 'flowschemas', 'prioritylevelconfigurations', 'ingressclasses', 'ingresses', 'ing', 'networkpolicies',
    'netpol', 'runtimeclasses', 'poddisruptionbudgets', 'pdb', 'clusterrolebindings', 'clusterroles', 'rolebindings', 'roles',
    'priorityclasses', 'pc', 'csidrivers', 'csinodes', 'csistoragecapacities', 'storageclasses', 'sc', 'volumeattachments',
    'validatingadmissionpolicies', 'validatingadmissionpolicybindings', 'deviceclasses', 'resourceclaims', 'resourceslices',
    'job', 'cronjob', 'deployment', 'pod', 'service', 'secret', 'configmap', 'event', 'lease', 'ingress', 'role',
  ],
  'Argo CD': ['applications', 'application', 'app', 'apps', 'applicationsets', 'applicationset', 'appset', 'appsets', 'appprojects', 'appproject', 'appproj', 'appprojs'],
  'Argo Rollouts': [
    'rollouts', 'rollout', 'ro', 'analysisruns', 'analysisrun', 'ar', 'analysistemplates', 'analysistemplate', 'at',
    'clusteranalysistemplates', 'clusteranalysistemplate', 'cat', 'experiments', 'experiment', 'exp', 'rolloutplugins',
  ],
  Flagger: ['canaries', 'canary', 'metrictemplates', 'metrictemplate', 'alertproviders', 'alertprovider'],
  OpenShift: [
    'clusteroperators', 'clusteroperator', 'co', 'clusterversions', 'clusterversion', 'deploymentconfigs', 'dc', 'buildconfigs', 'bc',
    'builds', 'build', 'imagestreams', 'is', 'imagestreamtags', 'istag', 'imagestreamimages', 'isimage', 'routes', 'route',
    'projects', 'project', 'templates', 'template', 'securitycontextconstraints', 'scc', 'clusterresourcequotas', 'clusterquota',
    'machineconfigs', 'mc', 'machineconfigpools', 'mcp', 'machines', 'machine', 'machinesets', 'machineset', 'oauthclients',
    'consoles', 'console', 'networks', 'network', 'proxies', 'proxy', 'infrastructures', 'dnses', 'ingresscontrollers',
  ],
  Istio: [
    'virtualservices', 'virtualservice', 'vs', 'destinationrules', 'destinationrule', 'dr', 'gateways', 'gateway', 'gw',
    'serviceentries', 'serviceentry', 'se', 'sidecars', 'sidecar', 'envoyfilters', 'envoyfilter', 'workloadentries', 'we',
    'workloadgroups', 'wg', 'peerauthentications', 'pa', 'requestauthentications', 'ra', 'authorizationpolicies', 'ap',
    'telemetries', 'telemetry', 'proxyconfigs', 'wasmplugins', 'istio-io', 'networking-istio-io', 'security-istio-io',
  ],
  Knative: [
    'services', 'service', 'kservice', 'ksvc', 'routes', 'route', 'rt', 'revisions', 'revision', 'rev', 'configurations',
    'configuration', 'config', 'cfg', 'domainmappings', 'dm', 'certificates', 'kcert', 'ingresses', 'kingress', 'king',
    'podautoscalers', 'kpa', 'serverlessservices', 'sks', 'images', 'img', 'brokers', 'broker', 'triggers', 'trigger',
    'channels', 'ch', 'subscriptions', 'sub', 'inmemorychannels', 'imc', 'eventtypes', 'parallels', 'sequences',
    'pingsources', 'apiserversources', 'containersources', 'sinkbindings', 'knative', 'serving', 'eventing', 'messaging', 'sources',
  ],
  'cert-manager': [
    'certificates', 'certificate', 'cert', 'certs', 'certificaterequests', 'certificaterequest', 'cr', 'crs', 'issuers', 'issuer',
    'clusterissuers', 'clusterissuer', 'orders', 'order', 'challenges', 'challenge', 'cert-manager', 'cert-manager-acme',
  ],
  Crossplane: [
    'compositeresourcedefinitions', 'xrd', 'xrds', 'compositions', 'composition', 'comp', 'compositionrevisions', 'comprev',
    'providers', 'provider', 'providerrevisions', 'configurations', 'configurationrevisions', 'functions', 'function', 'fn',
    'functionrevisions', 'deploymentruntimeconfigs', 'environmentconfigs', 'envcfg', 'usages', 'usage', 'storeconfigs',
    'locks', 'crossplane', 'pkg', 'pkgrev', 'managed', 'composite', 'claim',
  ],
};

describe('api: names that collide with nothing common', () => {
  const ours = Object.values(KINDS).flatMap((k) => [
    { what: `${k.kind} plural`, name: k.plural },
    { what: `${k.kind} singular`, name: k.singular },
    ...k.shortNames.map((s) => ({ what: `${k.kind} short name`, name: s })),
  ]);

  it('the category is none of our kinds\' names (kubectl expands it first)', () => {
    assert.equal(CATEGORY, 'cutover-all');
    for (const n of ours) assert.notEqual(n.name, CATEGORY, `${n.what} ${n.name} is the category`);
  });

  it('the category, plurals, singulars and short names are not used by core Kubernetes, Argo, Flagger, OpenShift, Istio, Knative, cert-manager or Crossplane', () => {
    const clashes: string[] = [];
    for (const [project, names] of Object.entries(KNOWN_NAMES)) {
      for (const n of [...ours, { what: 'category', name: CATEGORY }]) {
        if (names.includes(n.name)) clashes.push(`${n.what} '${n.name}' is also used by ${project}`);
      }
    }
    assert.deepEqual(clashes, []);
  });

  it('the old names would have been caught', () => {
    const used = new Set(Object.values(KNOWN_NAMES).flat());
    assert.ok(used.has('co') && used.has('canary'), 'co (OpenShift) and canary (Flagger) are in the checked list');
  });
});
