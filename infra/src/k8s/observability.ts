import fs from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';

/** Repository root (infra/src/k8s is three levels down). */
export const repoRoot = path.resolve(__dirname, '..', '..', '..');

export interface RuleGroup {
  name: string;
  interval?: string;
  rules: Record<string, unknown>[];
}

export interface Dashboard {
  /** DNS-safe name derived from the file name. */
  slug: string;
  file: string;
  json: string;
}

/** Largest ConfigMap the API server accepts (1 MiB), minus room for metadata. */
const configMapLimit = 1_000_000;

function walk(dir: string, accept: (file: string) => boolean): string[] {
  if (!fs.existsSync(dir)) return [];
  const found: string[] = [];
  for (const entry of fs.readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
    if (entry.name.startsWith('.') || entry.name === 'node_modules') continue;
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) found.push(...walk(full, accept));
    else if (accept(entry.name)) found.push(full);
  }
  return found;
}

/**
 * Prometheus rule groups from every YAML file under `alerts/` that has a `groups:` list
 * (promtool test files and other YAML are skipped). None yet: an empty list.
 */
export function loadRuleGroups(dir = path.join(repoRoot, 'alerts')): RuleGroup[] {
  const groups: RuleGroup[] = [];
  const seen = new Map<string, string>();
  for (const file of walk(dir, (name) => /\.(ya?ml)$/.test(name))) {
    const relative = path.relative(repoRoot, file);
    let documents: unknown[];
    try {
      documents = YAML.parseAllDocuments(fs.readFileSync(file, 'utf8')).map((doc) => {
        const [first] = doc.errors;
        if (first) throw first;
        return doc.toJS();
      });
    } catch (error) {
      throw new Error(`${relative}: not valid YAML: ${(error as Error).message}`, { cause: error });
    }
    for (const doc of documents) {
      if (!doc || typeof doc !== 'object' || !Array.isArray((doc as { groups?: unknown }).groups)) continue;
      for (const group of (doc as { groups: unknown[] }).groups) {
        const candidate = group as Partial<RuleGroup>;
        if (typeof candidate.name !== 'string' || !Array.isArray(candidate.rules)) {
          throw new Error(`${relative}: every rule group needs a name and a rules list`);
        }
        const previous = seen.get(candidate.name);
        if (previous) throw new Error(`${relative}: rule group "${candidate.name}" is also defined in ${previous}`);
        seen.set(candidate.name, relative);
        groups.push(candidate as RuleGroup);
      }
    }
  }
  return groups;
}

/** Grafana dashboards: every JSON file under `dashboards/` that is a dashboard (has `panels`). */
export function loadDashboards(dir = path.join(repoRoot, 'dashboards')): Dashboard[] {
  const dashboards: Dashboard[] = [];
  const slugs = new Map<string, string>();
  for (const file of walk(dir, (name) => name.endsWith('.json') && !['package.json', 'tsconfig.json'].includes(name))) {
    const relative = path.relative(repoRoot, file);
    const text = fs.readFileSync(file, 'utf8');
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (error) {
      throw new Error(`${relative}: not valid JSON: ${(error as Error).message}`, { cause: error });
    }
    if (!parsed || typeof parsed !== 'object' || !Array.isArray((parsed as { panels?: unknown }).panels)) continue;
    if (Buffer.byteLength(text) > configMapLimit) throw new Error(`${relative}: larger than a ConfigMap can hold (1 MiB)`);
    const slug = path
      .basename(file, '.json')
      .toLowerCase()
      .replace(/[^a-z0-9-]+/g, '-')
      .replace(/^-+|-+$/g, '')
      .slice(0, 40);
    const previous = slugs.get(slug);
    if (previous) throw new Error(`${relative}: dashboard name "${slug}" clashes with ${previous}`);
    slugs.set(slug, relative);
    dashboards.push({ slug, file: relative, json: text });
  }
  return dashboards;
}
