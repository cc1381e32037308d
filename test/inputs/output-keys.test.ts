import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { jobIdFor, outputKeyFor, validatePath } from '../../shared/inputs';
import { outputPathFor } from '../../shared/prompts';
import { KINDS } from '../../shared/types';
import { validPath } from './arbitraries';

describe('outputPathFor', () => {
  it.each([
    ['docs', 'src/a.ts', 'src/a.ts.md'],
    ['docs', 'README', 'README.md'],
    ['tests', 'src/a.ts', 'src/a.test.ts'],
    ['tests', 'web/App.tsx', 'web/App.test.tsx'],
    ['tests', 'lib/fmt.js', 'lib/fmt.test.js'],
    ['tests', 'pkg/x.py', 'pkg/test_x.py'],
    ['tests', 'x.py', 'test_x.py'],
    ['tests', 'x.go', 'x_test.go'],
    ['tests', 'svc/rates.go', 'svc/rates_test.go'],
    ['tests', 'Foo.java', 'FooTest.java'],
    ['tests', 'src/main/java/com/acme/Foo.java', 'src/test/java/com/acme/FooTest.java'],
    ['tests', 'lib/a.rb', 'lib/a.test.rb'],
    ['tests', 'Makefile', 'Makefile.test'],
  ] as const)('%s of %s goes to %s', (kind, path, expected) => {
    expect(outputPathFor(kind, path)).toBe(expected);
  });
});

describe('outputKeyFor', () => {
  it('places the output under the team, project and batch', () => {
    expect(outputKeyFor('shop', 'web', 'b-1', 'tests', 'src/cart.ts')).toBe(
      'outputs/shop/web/b-1/src/cart.test.ts',
    );
  });

  it('derives output keys from the path alone, and they never leave the batch folder', () => {
    fc.assert(
      fc.property(validPath, fc.constantFrom(...KINDS), (path, kind) => {
        const key = outputKeyFor('shop', 'web', 'b-1', kind, path);
        const outputPath = key.slice('outputs/shop/web/b-1/'.length);
        expect(key.startsWith('outputs/shop/web/b-1/')).toBe(true);
        expect(outputPath).toBe(outputPathFor(kind, path));
        expect(validatePath('out', outputPath).ok).toBe(true);
      }),
    );
  });
});

describe('jobIdFor', () => {
  it('is a short, stable hash that separates batch and path', () => {
    const id = jobIdFor('b1', 'src/a.ts');
    expect(id).toMatch(/^[0-9a-f]{16}$/);
    expect(jobIdFor('b1', 'src/a.ts')).toBe(id);
    expect(jobIdFor('b1', 'src/b.ts')).not.toBe(id);
    expect(jobIdFor('b1s', 'rc/a.ts')).not.toBe(jobIdFor('b1', 'src/a.ts'));
  });
});
