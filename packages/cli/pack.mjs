#!/usr/bin/env node
// `npm run pack:cli [-- <folder>]`: packs the `warmbatch` command (its `prepack` builds it) into
// dist/pack/ (or the folder given) and prints the tarball's absolute path on the last line, for
// `npm install <path>` elsewhere.
import { execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const DEST = process.argv[2] ? resolve(process.argv[2]) : join(ROOT, 'dist', 'pack');
mkdirSync(DEST, { recursive: true });
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
const out = execFileSync(
  npm,
  ['pack', '--json', '--workspace', 'packages/cli', '--pack-destination', DEST],
  { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] },
);
// prepack's own output precedes npm's JSON on stdout; the JSON is the last array printed.
const [packed] = JSON.parse(out.slice(out.lastIndexOf('\n[') + 1));
process.stdout.write(`${packed.files.length} files, ${packed.size} bytes packed\n`);
process.stdout.write(`${join(DEST, packed.filename)}\n`);
