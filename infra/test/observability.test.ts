import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadDashboards, loadRuleGroups } from '../src/k8s/observability';

let root = '';
beforeEach(() => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'switchboard-observability-'));
});
afterEach(() => fs.rmSync(root, { recursive: true, force: true }));

function write(relative: string, content: string): void {
  const file = path.join(root, relative);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, content);
}

describe('alerts/ loader', () => {
  test('a missing or empty folder gives no rule groups', () => {
    expect(loadRuleGroups(path.join(root, 'missing'))).toEqual([]);
    expect(loadRuleGroups(root)).toEqual([]);
  });

  test('collects groups from every rule file, in any sub-folder, and skips promtool tests and other YAML', () => {
    write('a.rules.yml', 'groups:\n  - name: availability\n    rules:\n      - alert: Down\n        expr: up == 0\n');
    write('generated/b.yaml', 'groups:\n  - name: latency\n    interval: 30s\n    rules: []\n');
    write('tests/a.test.yml', 'rule_files: [../a.rules.yml]\ntests: []\n');
    write('notes.md', '# not yaml');
    expect(loadRuleGroups(root).map((g) => g.name)).toEqual(['availability', 'latency']);
  });

  test('refuses duplicate group names, groups without rules and broken YAML', () => {
    write('a.rules.yml', 'groups:\n  - name: same\n    rules: []\n');
    write('b.rules.yml', 'groups:\n  - name: same\n    rules: []\n');
    expect(() => loadRuleGroups(root)).toThrow(/rule group "same" is also defined in/);
    fs.rmSync(path.join(root, 'b.rules.yml'));
    write('c.rules.yml', 'groups:\n  - name: nameless-rules\n');
    expect(() => loadRuleGroups(root)).toThrow(/needs a name and a rules list/);
    fs.rmSync(path.join(root, 'c.rules.yml'));
    write('d.yaml', 'groups: [\n');
    expect(() => loadRuleGroups(root)).toThrow(/d.yaml: not valid YAML/);
  });
});

describe('dashboards/ loader', () => {
  test('takes dashboard JSON (with panels), skips other JSON, names them DNS-safe', () => {
    write('generated/Switchboard Overview.json', JSON.stringify({ title: 'Overview', panels: [] }));
    write('package.json', '{"name":"x"}');
    write('provisioning.json', JSON.stringify({ apiVersion: 1, providers: [] }));
    expect(loadDashboards(root).map((d) => d.slug)).toEqual(['switchboard-overview']);
  });

  test('refuses clashing names, broken JSON and dashboards too large for a ConfigMap', () => {
    write('a/overview.json', JSON.stringify({ panels: [] }));
    write('b/overview.json', JSON.stringify({ panels: [] }));
    expect(() => loadDashboards(root)).toThrow(/clashes with/);
    fs.rmSync(path.join(root, 'b'), { recursive: true });
    write('broken.json', '{');
    expect(() => loadDashboards(root)).toThrow(/broken.json: not valid JSON/);
    fs.rmSync(path.join(root, 'broken.json'));
    write('huge.json', JSON.stringify({ panels: [], padding: 'x'.repeat(1_100_000) }));
    expect(() => loadDashboards(root)).toThrow(/larger than a ConfigMap/);
  });
});
