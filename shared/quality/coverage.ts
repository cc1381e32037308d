/**
 * Line coverage from the two report formats test tools agree on: istanbul's `json-summary`
 * (`coverage/coverage-summary.json`: per file `{ lines: { total, covered } }`) and lcov
 * (`SF:` a file, `DA:<line>,<hits>` per line, `end_of_record`). Paths are normalized to
 * forward slashes, relative to `root` when they are absolute under it.
 */

/** Covered and coverable lines of one source file. */
export interface FileCoverage {
  covered: number;
  total: number;
}

function relativeTo(root: string, file: string): string {
  const path = file.split('\\').join('/');
  const base = root.split('\\').join('/').replace(/\/+$/, '');
  if (base !== '' && path.startsWith(`${base}/`)) return path.slice(base.length + 1);
  return path.replace(/^\.\//, '');
}

/** Parses istanbul's json-summary; the `total` entry is skipped. */
export function parseJsonSummary(text: string, root = ''): Map<string, FileCoverage> {
  const raw = JSON.parse(text) as Record<
    string,
    { lines?: { total?: unknown; covered?: unknown } }
  >;
  const out = new Map<string, FileCoverage>();
  for (const [file, entry] of Object.entries(raw)) {
    if (file === 'total') continue;
    const total = Number(entry?.lines?.total);
    const covered = Number(entry?.lines?.covered);
    if (!Number.isInteger(total) || !Number.isInteger(covered)) continue;
    out.set(relativeTo(root, file), { covered, total });
  }
  return out;
}

/** Parses lcov: counts `DA` lines (hit when their count is above zero) per `SF` file. */
export function parseLcov(text: string, root = ''): Map<string, FileCoverage> {
  const out = new Map<string, FileCoverage>();
  let file: string | undefined;
  let lines = new Map<number, boolean>();
  const flush = () => {
    if (file === undefined) return;
    const prior = out.get(file);
    const covered = [...lines.values()].filter(Boolean).length;
    out.set(file, {
      covered: Math.max(prior?.covered ?? 0, covered),
      total: Math.max(prior?.total ?? 0, lines.size),
    });
  };
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line.startsWith('SF:')) {
      flush();
      file = relativeTo(root, line.slice(3));
      lines = new Map();
    } else if (line.startsWith('DA:') && file !== undefined) {
      const [no, hits] = line.slice(3).split(',');
      const n = Number(no);
      if (Number.isInteger(n)) lines.set(n, (lines.get(n) ?? false) || Number(hits) > 0);
    } else if (line === 'end_of_record') {
      flush();
      file = undefined;
    }
  }
  flush();
  return out;
}

/** Parses a report by its content: JSON is a json-summary, anything else lcov. */
export function parseCoverage(text: string, root = ''): Map<string, FileCoverage> {
  return text.trimStart().startsWith('{') ? parseJsonSummary(text, root) : parseLcov(text, root);
}
