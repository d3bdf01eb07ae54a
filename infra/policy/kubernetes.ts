import { at, containers, ofKind, podSpecOf, resourceRule, stackRule, type SwitchboardPolicy } from './support';

/* eslint-disable @typescript-eslint/no-explicit-any -- rules read provider inputs and outputs, which are untyped JSON */

/** The core's Kubernetes objects: probes, resources, security context, scaling, shutdown, secrets. */
export const kubernetesPolicies: SwitchboardPolicy[] = [
  resourceRule({
    name: 'k8s-probes',
    anchor: 'issue 6 (readiness /ready, liveness /health); checkov CKV_K8S_8 / CKV_K8S_9',
    description: 'Every container has readiness on /ready and liveness on /health.',
    appliesTo: ['Deployment'],
    check: (d) =>
      containers(d).flatMap((c) => [
        ...(c.readinessProbe?.httpGet?.path === '/ready' ? [] : [`${d.name}/${c.name}: readiness probe is not GET /ready`]),
        ...(c.livenessProbe?.httpGet?.path === '/health' ? [] : [`${d.name}/${c.name}: liveness probe is not GET /health`]),
      ]),
  }),
  resourceRule({
    name: 'k8s-resources',
    anchor: 'issue 6 (requests/limits); checkov CKV_K8S_10–13',
    description: 'Every container (Deployments and CronJobs) requests and limits CPU and memory.',
    appliesTo: ['Deployment', 'CronJob'],
    check: (d) =>
      containers(d).flatMap((c) =>
        ['requests', 'limits'].flatMap((kind) => ['cpu', 'memory'].filter((r) => !c.resources?.[kind]?.[r]).map((r) => `${d.name}/${c.name}: no ${r} ${kind}`)),
      ),
  }),
  resourceRule({
    name: 'k8s-restricted-security-context',
    anchor: 'issue 6 (non-root, read-only root fs); CIS Kubernetes Benchmark 5.2 / Pod Security Standards "restricted"',
    description: 'Containers (Deployments and CronJobs) run as non-root with a read-only root filesystem, no privilege escalation, all capabilities dropped, RuntimeDefault seccomp.',
    appliesTo: ['Deployment', 'CronJob'],
    check: (d) => {
      const pod = podSpecOf(d);
      return containers(d).flatMap((c) => {
        const sc = c.securityContext ?? {};
        const problems: string[] = [];
        if (sc.runAsNonRoot !== true && pod.securityContext?.runAsNonRoot !== true) problems.push('may run as root');
        if (sc.readOnlyRootFilesystem !== true) problems.push('root filesystem is writable');
        if (sc.allowPrivilegeEscalation !== false) problems.push('allows privilege escalation');
        if (!(sc.capabilities?.drop ?? []).includes('ALL')) problems.push('keeps capabilities');
        if ((sc.seccompProfile ?? pod.securityContext?.seccompProfile)?.type !== 'RuntimeDefault') problems.push('no RuntimeDefault seccomp profile');
        return problems.map((p) => `${d.name}/${c.name}: ${p}`);
      });
    },
  }),
  stackRule({
    name: 'k8s-replicas-in-production',
    anchor: 'issue 6 (≥2 replicas in production; HPA 3–10 from the seeds)',
    description: 'In production, Deployments run at least 2 replicas and HPAs keep at least 3.',
    check: (resources, context) => {
      const deployments = ofKind(resources, 'Deployment');
      const hpas = ofKind(resources, 'HorizontalPodAutoscaler');
      if (deployments.length + hpas.length === 0 || context().environment !== 'production') return [];
      return [
        ...deployments.filter((d) => !(d.props.spec?.replicas >= 2)).map((d) => at(d, `${d.name}: fewer than 2 replicas`)),
        ...hpas.filter((h) => !(h.props.spec?.minReplicas >= 3)).map((h) => at(h, `${h.name}: minReplicas below 3`)),
      ];
    },
  }),
  resourceRule({
    name: 'k8s-hpa-seed-targets',
    anchor: 'issue 6 / seeds (HPA v2, CPU 70 %, memory 80 %)',
    description: 'HPAs scale on CPU at 70 % and memory at 80 % utilisation.',
    appliesTo: ['HorizontalPodAutoscaler'],
    check: (h) => {
      const target = (name: string) => (h.props.spec?.metrics ?? []).find((m: any) => m.resource?.name === name)?.resource?.target?.averageUtilization;
      return target('cpu') === 70 && target('memory') === 80 ? [] : [`${h.name}: targets are not CPU 70 % / memory 80 %`];
    },
  }),
  stackRule({
    name: 'k8s-hpa-above-pdb',
    anchor: 'issue 6 (HPA ≥ PDB)',
    description: "An HPA's floor is above its PodDisruptionBudget's minAvailable, so a drain can always evict a pod.",
    check: (resources) =>
      ofKind(resources, 'PodDisruptionBudget').flatMap((pdb) => {
        const minAvailable = pdb.props.spec?.minAvailable;
        if (typeof minAvailable !== 'number') return [];
        const namespace = pdb.props.metadata?.namespace;
        const hpas = ofKind(resources, 'HorizontalPodAutoscaler').filter((h) => h.props.metadata?.namespace === namespace);
        if (hpas.length === 0) return [at(pdb, `${pdb.name}: no HPA in namespace ${namespace}`)];
        return hpas.filter((h) => !(h.props.spec?.minReplicas > minAvailable)).map((h) => at(h, `${h.name}: minReplicas ${h.props.spec?.minReplicas} ≤ PDB minAvailable ${minAvailable}`));
      }),
  }),
  stackRule({
    name: 'k8s-graceful-shutdown',
    anchor: 'brief (terminationGracePeriodSeconds > SHUTDOWN_DRAIN_MS + preStop)',
    description: 'Termination grace exceeds the preStop sleep plus the core’s SHUTDOWN_DRAIN_MS.',
    check: (resources) => {
      const drainMs = Number(ofKind(resources, 'ConfigMap').find((c) => c.props.data?.SHUTDOWN_DRAIN_MS)?.props.data.SHUTDOWN_DRAIN_MS ?? 10_000);
      return ofKind(resources, 'Deployment').flatMap((d) => {
        const pod = d.props.spec?.template?.spec ?? {};
        const preStop = Math.max(0, ...containers(d).map((c) => c.lifecycle?.preStop?.sleep?.seconds ?? 0));
        const grace = pod.terminationGracePeriodSeconds ?? 30;
        return grace > preStop + drainMs / 1000 ? [] : [at(d, `${d.name}: grace ${grace}s ≤ preStop ${preStop}s + drain ${drainMs / 1000}s`)];
      });
    },
  }),
  resourceRule({
    name: 'k8s-secrets-not-in-configmaps',
    anchor: 'brief (MONGODB_URI, REDIS_URL, JWT_HS256_KEYS, SENTRY_DSN are secrets); Kubernetes docs (ConfigMaps provide no secrecy)',
    description: 'Secret environment variables only ever live in Secrets.',
    appliesTo: ['ConfigMap'],
    check: (c) => ['MONGODB_URI', 'REDIS_URL', 'JWT_HS256_KEYS', 'SENTRY_DSN'].filter((key) => key in (c.props.data ?? {})).map((key) => `${c.name}: ${key} belongs in a Secret`),
  }),
];
