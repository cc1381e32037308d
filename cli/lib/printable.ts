/**
 * Text from inputs (file paths, reasons quoting a bad line) made safe to print on a terminal:
 * control characters (C0, DEL and C1, which include ESC and CSI, the start of every terminal
 * escape sequence) and line and paragraph separators become visible escapes such as `\u001b`,
 * so a crafted file name cannot move the cursor, recolour or retitle the user's terminal, or
 * forge a line of output.
 */
export function printable(text: string): string {
  let out = '';
  for (const c of text) {
    const code = c.codePointAt(0) ?? 0;
    const control =
      code < 0x20 || (code >= 0x7f && code <= 0x9f) || code === 0x2028 || code === 0x2029;
    out += control ? `\\u${code.toString(16).padStart(4, '0')}` : c;
  }
  return out;
}
