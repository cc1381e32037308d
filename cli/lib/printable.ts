/**
 * Text from inputs (file paths, reasons quoting a bad line) made safe to print on a terminal:
 * control characters (C0, DEL and C1, which include ESC and CSI, the start of every terminal
 * escape sequence) and line and paragraph separators become visible escapes such as `\u001b`,
 * so a crafted file name cannot move the cursor, recolour or retitle the user's terminal, or
 * forge a line of output.
 */
export function printable(text: string): string {
  return text.replace(
    /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}
