#!/usr/bin/env node
// Entry for `npx warmbatch`: registers tsx so the TypeScript sources run as they are, on Node 20 and 22.
import { register } from 'tsx/esm/api';

register();
await import('./main.ts');
