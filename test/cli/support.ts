import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import type { Services } from '../../cli/config';
import type { CliDeps, CliIo } from '../../cli/lib/context';
import { createJobsStore } from '../../shared/aws/jobs';
import { createLedgerStore } from '../../shared/aws/ledger-store';
import { createS3ObjectStore } from '../../shared/aws/object-store';
import { type Clock, systemClock } from '../../shared/clock';
import type { LocalAws } from '../support/emulators';
import { afterThisFile } from '../support/file-cleanup';

/** An io that records what a command writes. */
export function bufferIo(
  cwd: string,
  env: Record<string, string | undefined> = {},
): CliIo & { out(): string; err(): string } {
  let out = '';
  let err = '';
  return {
    cwd,
    env,
    stdout: { write: (s: string) => (out += s) },
    stderr: { write: (s: string) => (err += s), isTTY: false },
    out: () => out,
    err: () => err,
  };
}

/** The stores over local AWS clients that the test owns (closing is the test's business). */
export function servicesOver(aws: Pick<LocalAws, 'clients' | 'resources'>): Services {
  const { clients, resources } = aws;
  return {
    objects: createS3ObjectStore(clients.s3, resources.bucket),
    jobs: createJobsStore({ ddb: clients.doc, table: resources.tables.jobs }),
    ledger: createLedgerStore({
      ddb: clients.doc,
      ledgerTable: resources.tables.ledger,
      jobsTable: resources.tables.jobs,
    }),
    close() {},
  };
}

/** Command dependencies over local AWS, polling fast. */
export function depsOver(
  aws: Pick<LocalAws, 'clients' | 'resources'>,
  io: CliIo,
  overrides: Partial<CliDeps> = {},
): CliDeps {
  const clock: Clock = overrides.clock ?? systemClock;
  return {
    io,
    clock,
    connect: async () => servicesOver(aws),
    sleep: (ms) => new Promise((r) => setTimeout(r, ms)),
    pollMs: 50,
    ...overrides,
  };
}

/** Where the project directories of a test file go unless told: removed after the file. */
let scratch: Promise<string> | undefined;

/** A temporary project directory holding the given files (path -> content). */
export async function projectDir(
  files: Record<string, string | Uint8Array>,
  /** A folder the caller removes; by default one in the system's temp folder, removed after the file. */
  parent?: string,
): Promise<string> {
  if (!scratch) {
    const made = mkdtemp(join(tmpdir(), 'warmbatch-cli-'));
    scratch = made;
    afterThisFile(async () => {
      if (scratch === made) scratch = undefined;
      await rm(await made, { recursive: true, force: true });
    });
  }
  const dir = await mkdtemp(join(parent ?? (await scratch), 'project-'));
  for (const [path, content] of Object.entries(files)) {
    await mkdir(dirname(join(dir, path)), { recursive: true });
    await writeFile(join(dir, path), content);
  }
  return dir;
}

/** Parses RFC 4180 CSV (quoted fields, doubled quotes, CRLF), enough to check our output. */
export function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i] as string;
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        field += '"';
        i++;
      } else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') {
      row.push(field);
      field = '';
    } else if (c === '\r' && text[i + 1] === '\n') {
      row.push(field);
      rows.push(row);
      row = [];
      field = '';
      i++;
    } else field += c;
  }
  if (field !== '' || row.length > 0) {
    row.push(field);
    rows.push(row);
  }
  return rows;
}

/** Dollars with 9 decimals to integer nano-USD, without floats. */
export function nanoOf(usd: string): number {
  const [whole, fraction = ''] = usd.split('.');
  return Number(BigInt(whole as string) * 1_000_000_000n + BigInt(fraction.padEnd(9, '0')));
}

/** A small TypeScript source, different for each `i`. */
export function source(i: number): string {
  return `export function add${i}(a: number, b: number): number {\n  return a + b + ${i};\n}\n`;
}

/** `n` sources, each in a folder of its own under `dir`, by path. */
export function sources(n: number, dir = 'src'): Record<string, string> {
  return Object.fromEntries(
    Array.from({ length: n }, (_, i) => [`${dir}/m${i}/file${i}.ts`, source(i)]),
  );
}

/** The files under `dir`, as sorted paths relative to it with forward slashes. */
export async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries
    .filter((e) => e.isFile())
    .map((e) => relative(dir, join(e.parentPath, e.name)).split('\\').join('/'))
    .sort();
}
