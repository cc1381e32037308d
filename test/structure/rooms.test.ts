/**
 * Rooms a maintainer can hold, checked on the source: no file over 500 lines and no function over
 * 120 in the code people change (shared/, cli/, local/, bench/, packages/); no two files that
 * import each other, directly or around a circle; and the top-level rooms stacked so imports only
 * run down: packages/ (every entry point built here) may use bench/, bench/ local/, local/ cli/,
 * infra/ and lambdas/, and all of them shared/.
 * Functions are measured with the TypeScript parser, so a function is what the compiler calls one
 * (an arrow function, a method, a factory's body), not a guess from braces.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, normalize, relative } from 'node:path';
import { ts } from '@ts-morph/common';
import { describe, expect, it } from 'vitest';

const ROOT = join(import.meta.dirname, '..', '..');

/** Longest a file may be. */
const MAX_FILE_LINES = 500;
/** Longest a function may be, from its first line to its closing brace. */
const MAX_FUNCTION_LINES = 120;
/** Where the limits apply: the code a maintainer edits (generated bundles are left out). */
const MEASURED = ['shared', 'cli', 'local', 'bench', 'packages'];
/** Every room of source, for circles and direction. */
const ROOMS = ['shared', 'cli', 'infra', 'lambdas', 'local', 'bench', 'packages'];
/**
 * The rooms' floors, lowest first: a room may import only from a lower floor or from itself.
 * local/ runs the pipeline with emulators and bench/ measures it; packages/ holds the entry points
 * built from this repository (the published command, the GitHub Action, and the repository's own
 * tools, which start local/ and bench/), so it sits above both.
 */
const FLOORS: readonly (readonly string[])[] = [
  ['shared'],
  ['cli', 'infra', 'lambdas'],
  ['local'],
  ['bench'],
  ['packages'],
];

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory())
      return entry.name === 'dist' || entry.name === 'node_modules' ? [] : sourceFiles(path);
    return /\.[cm]?[jt]s$/.test(entry.name) && !entry.name.endsWith('.d.ts') ? [path] : [];
  });
}

interface Source {
  name: string;
  text: string;
}

const read = (room: string): Source[] =>
  sourceFiles(join(ROOT, room)).map((path) => ({
    name: relative(ROOT, path).split('\\').join('/'),
    text: readFileSync(path, 'utf8'),
  }));

/** Functions longer than `limit` lines in one source, as `file:line name (N lines)`. */
function longFunctions(source: Source, limit: number): string[] {
  const file = ts.createSourceFile(source.name, source.text, ts.ScriptTarget.Latest, true);
  const found: string[] = [];
  const lineOf = (pos: number) => file.getLineAndCharacterOfPosition(pos).line + 1;
  const visit = (node: ts.Node): void => {
    if (ts.isFunctionLike(node) && 'body' in node && node.body) {
      const lines = lineOf(node.end) - lineOf(node.getStart(file)) + 1;
      if (lines > limit)
        found.push(
          `${source.name}:${lineOf(node.getStart(file))} ${nameOf(node)} (${lines} lines)`,
        );
    }
    ts.forEachChild(node, visit);
  };
  visit(file);
  return found;
}

function nameOf(node: ts.Node): string {
  const named = node as { name?: ts.Node };
  if (named.name) return named.name.getText();
  const parent = node.parent;
  if (parent && (ts.isVariableDeclaration(parent) || ts.isPropertyAssignment(parent)))
    return parent.name.getText();
  return '<anonymous>';
}

/** Relative imports of a source resolved to files of the tree (type-only imports included). */
function importsOf(source: Source, known: ReadonlySet<string>): string[] {
  const specifiers = [
    ...source.text.matchAll(/\b(?:import|export)\b[^'";]*?\bfrom\s*['"](\.[^'"]+)['"]/g),
    ...source.text.matchAll(/\bimport\s*\(\s*['"](\.[^'"]+)['"]\s*\)/g),
  ].map((m) => m[1] ?? '');
  return specifiers.flatMap((specifier) => {
    const base = normalize(join(dirname(source.name), specifier))
      .split('\\')
      .join('/');
    const stem = base.replace(/\.[cm]?js$/, '');
    const candidates = [
      base,
      `${stem}.ts`,
      `${stem}.mts`,
      `${stem}.js`,
      `${stem}.mjs`,
      `${stem}/index.ts`,
    ];
    const hit = candidates.find((c) => known.has(c));
    return hit ? [hit] : [];
  });
}

/** Strongly connected groups of more than one file (Tarjan), each sorted. */
function circles(edges: ReadonlyMap<string, readonly string[]>): string[][] {
  let index = 0;
  const order = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const found: string[][] = [];
  const connect = (v: string): void => {
    order.set(v, index);
    low.set(v, index);
    index += 1;
    stack.push(v);
    onStack.add(v);
    for (const w of edges.get(v) ?? []) {
      if (!order.has(w)) {
        connect(w);
        low.set(v, Math.min(low.get(v) ?? 0, low.get(w) ?? 0));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v) ?? 0, order.get(w) ?? 0));
    }
    if (low.get(v) === order.get(v)) {
      const group: string[] = [];
      let w: string | undefined;
      do {
        w = stack.pop();
        if (w === undefined) break;
        onStack.delete(w);
        group.push(w);
      } while (w !== v);
      if (group.length > 1 || (edges.get(v) ?? []).includes(v)) found.push(group.sort());
    }
  };
  for (const v of edges.keys()) if (!order.has(v)) connect(v);
  return found;
}

const roomOf = (name: string) => name.split('/')[0] ?? '';
const floorOf = (room: string) => FLOORS.findIndex((floor) => floor.includes(room));

describe('rooms a maintainer can hold', () => {
  const measured = MEASURED.flatMap(read);
  const all = ROOMS.flatMap(read);
  const known = new Set(all.map((s) => s.name));
  const edges = new Map(all.map((s) => [s.name, importsOf(s, known)] as const));

  it('finds a function that is too long and a circle of imports, so the checks below can fail', () => {
    // Prepare
    const body = Array.from({ length: 5 }, (_, i) => `  const v${i} = ${i};`).join('\n');
    const source = {
      name: 'x.ts',
      text: `export const f = () => {\n${body}\n};\nfunction g() {\n  return 1;\n}\n`,
    };

    // Act
    const long = longFunctions(source, 5);
    const found = circles(
      new Map([
        ['a', ['b']],
        ['b', ['c']],
        ['c', ['a']],
        ['d', ['a']],
      ]),
    );

    // Assess
    expect(long).toEqual(['x.ts:1 f (7 lines)']);
    expect(found).toEqual([['a', 'b', 'c']]);
  });

  it(`keeps every file of ${MEASURED.join('/, ')}/ at or under ${MAX_FILE_LINES} lines`, () => {
    expect(measured.length).toBeGreaterThan(150);
    const long = measured
      .map((s) => ({ name: s.name, lines: s.text.split('\n').length - 1 }))
      .filter((s) => s.lines > MAX_FILE_LINES)
      .map((s) => `${s.name}: ${s.lines} lines`);
    expect(long).toEqual([]);
  });

  it(`keeps every function of ${MEASURED.join('/, ')}/ at or under ${MAX_FUNCTION_LINES} lines`, () => {
    expect(measured.flatMap((s) => longFunctions(s, MAX_FUNCTION_LINES))).toEqual([]);
  });

  it('has no circle of imports anywhere in the source', () => {
    expect([...edges.values()].flat().length).toBeGreaterThan(500);
    expect(circles(edges)).toEqual([]);
  });

  it('imports only down between rooms: packages, bench, local, then cli, infra, lambdas, then shared', () => {
    const upward = [...edges].flatMap(([from, targets]) =>
      targets
        .filter((to) => roomOf(to) !== roomOf(from) && floorOf(roomOf(to)) >= floorOf(roomOf(from)))
        .map((to) => `${from} imports ${to}`),
    );
    expect(ROOMS.filter((room) => floorOf(room) < 0)).toEqual([]);
    expect(upward).toEqual([]);
  });
});
