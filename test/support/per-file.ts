/** Set up for every test file: what its helpers registered with afterThisFile runs at its end. */
import { afterAll } from 'vitest';
import { runFileCleanups } from './file-cleanup';

afterAll(runFileCleanups);
