/**
 * No import circles: a file never imports, directly or through others, a file that imports it,
 * so each can be read (and changed) before the files that use it. Type-only imports count too.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = join(import.meta.dirname, '..', '..');
/** The folders held to it; a folder joins once its circles are broken. */
const CHECKED = ['cli', 'shared/chargeback', 'infra', 'lambdas'];

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return entry.name === 'node_modules' ? [] : sourceFiles(path);
    return /\.ts$/.test(entry.name) && !entry.name.endsWith('.d.ts') ? [path] : [];
  });
}

/** The files a file imports by relative path, resolved as TypeScript resolves them. */
function localImports(file: string, source: string): string[] {
  const pattern =
    /\b(?:import|export)\b[^'";]*?\bfrom\s*['"](\.[^'"]*)['"]|\bimport\s*\(\s*['"](\.[^'"]*)['"]/g;
  return [...source.matchAll(pattern)].flatMap((m) => {
    const base = resolve(dirname(file), (m[1] ?? m[2]) as string);
    const hit = [`${base}.ts`, join(base, 'index.ts')].find(
      (p) => existsSync(p) && statSync(p).isFile(),
    );
    return hit ? [hit] : [];
  });
}

/** Import graph over the given files: each file and the files it imports. */
function importGraph(files: readonly string[]): Map<string, string[]> {
  return new Map(files.map((f) => [f, localImports(f, readFileSync(f, 'utf8'))]));
}

/** The circles of a graph (Tarjan's strongly connected components of more than one file). */
function circles(graph: ReadonlyMap<string, readonly string[]>): string[][] {
  let next = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const found: string[][] = [];
  const visit = (v: string) => {
    index.set(v, next);
    low.set(v, next);
    next++;
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!graph.has(w)) continue;
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v) as number, low.get(w) as number));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v) as number, index.get(w) as number));
    }
    if (low.get(v) !== index.get(v)) return;
    const component: string[] = [];
    let w: string;
    do {
      w = stack.pop() as string;
      onStack.delete(w);
      component.push(w);
    } while (w !== v);
    if (component.length > 1) found.push(component.sort());
  };
  for (const v of graph.keys()) if (!index.has(v)) visit(v);
  return found;
}

describe('imports', () => {
  it(`run without circles in ${CHECKED.join(', ')}`, () => {
    // Prepare: the whole repository's files, so a circle through an unchecked folder shows too.
    const graph = importGraph(
      ['cli', 'shared', 'infra', 'lambdas', 'local', 'bench'].flatMap((d) =>
        sourceFiles(join(ROOT, d)),
      ),
    );

    // Act
    const named = circles(graph)
      .map((c) => c.map((f) => relative(ROOT, f).split('\\').join('/')))
      .filter((c) => c.some((f) => CHECKED.some((d) => f.startsWith(`${d}/`))));

    // Assess
    expect(named).toEqual([]);
  });

  it('finds a circle of three', () => {
    // Prepare
    const graph = new Map([
      ['a', ['b']],
      ['b', ['c']],
      ['c', ['a']],
      ['d', ['a']],
    ]);

    // Act
    const found = circles(graph);

    // Assess
    expect(found).toEqual([['a', 'b', 'c']]);
  });
});
