import fs from 'node:fs';
import path from 'node:path';
import ts from 'typescript';

/**
 * Module boundaries of core/src, read with the TypeScript compiler's own parser (no extra
 * dependency: madge or dependency-cruiser would add a resolver and ~100 packages for what is a
 * graph of ~70 files with relative imports). Every import counts, `import type` included: a type
 * import is still a dependency between modules, and the cycle this test was written for
 * (store/documents.ts → media/attachment-service.ts → chat/access.ts → … → store) began with one.
 */
const root = path.join(__dirname, '..', 'src');

function sourceFiles(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const full = path.join(dir, e.name);
    if (e.isDirectory()) return sourceFiles(full);
    return e.name.endsWith('.ts') ? [full] : [];
  });
}

/** Relative imports and re-exports of one file, resolved to files under core/src. */
function importsOf(file: string): string[] {
  const source = ts.createSourceFile(file, fs.readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, false);
  const out: string[] = [];
  const visit = (node: ts.Node) => {
    if ((ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) && node.moduleSpecifier && ts.isStringLiteral(node.moduleSpecifier)) {
      const spec = node.moduleSpecifier.text;
      if (spec.startsWith('.')) {
        const base = path.resolve(path.dirname(file), spec);
        const target = [`${base}.ts`, path.join(base, 'index.ts')].find((f) => fs.existsSync(f));
        if (target) out.push(target);
      }
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return out;
}

const rel = (f: string) => path.relative(root, f).split(path.sep).join('/');
const files = sourceFiles(root);
const graph = new Map(files.map((f) => [rel(f), importsOf(f).map(rel)]));

/** Strongly connected components with more than one file, or a file importing itself (Tarjan). */
function cycles(g: Map<string, string[]>): string[][] {
  let index = 0;
  const stack: string[] = [];
  const onStack = new Set<string>();
  const idx = new Map<string, number>();
  const low = new Map<string, number>();
  const found: string[][] = [];
  const strong = (v: string) => {
    idx.set(v, index);
    low.set(v, index);
    index += 1;
    stack.push(v);
    onStack.add(v);
    for (const w of g.get(v) ?? []) {
      if (!idx.has(w)) {
        strong(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, idx.get(w)!));
    }
    if (low.get(v) === idx.get(v)) {
      const component: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        component.push(w);
      } while (w !== v);
      if (component.length > 1 || (g.get(v) ?? []).includes(v)) found.push(component.sort());
    }
  };
  for (const v of g.keys()) if (!idx.has(v)) strong(v);
  return found;
}

/** Edges that must not exist: [from (prefix), to (prefix), why]. */
const forbidden: [string, string, string][] = [
  ['store/', 'media/', 'the store knows documents and the driver, not object storage'],
  ['store/', 'chat/', 'the store knows documents and the driver, not the chat rules'],
  ['store/', 'http/', 'the store is below every transport'],
  ['store/', 'realtime/', 'the store is below every transport'],
  ['domain/', 'store/', 'domain types (ids) do not depend on persistence'],
  ['errors.ts', 'store/', 'the one error shape does not depend on the MongoDB classifier'],
];

describe('core/src module boundaries', () => {
  it('reads a plausible graph (the check itself works)', () => {
    expect(graph.size).toBeGreaterThan(40);
    expect(graph.get('server.ts')).toEqual(expect.arrayContaining(['config.ts']));
    expect(cycles(new Map([['a', ['b']], ['b', ['c']], ['c', ['a']], ['d', ['a']]]))).toEqual([['a', 'b', 'c']]);
  });

  it('has no import cycle', () => {
    expect(cycles(graph)).toEqual([]);
  });

  it('has no forbidden edge', () => {
    const violations = [...graph].flatMap(([from, tos]) =>
      tos.flatMap((to) => forbidden.filter(([f, t]) => from.startsWith(f) && to.startsWith(t)).map(([, , why]) => `${from} → ${to}: ${why}`)));
    expect(violations).toEqual([]);
  });

  it('keeps ids with the domain, not in store/', () => {
    expect(graph.has('domain/ids.ts')).toBe(true);
    expect(graph.has('store/ids.ts')).toBe(false);
  });
});
