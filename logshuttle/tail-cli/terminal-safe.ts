/**
 * A line made safe for a terminal, as `less` and `cat -v` do: every control character but tab
 * (C0 0x00-0x1F, DEL 0x7F, C1 U+0080-U+009F) is shown as visible text instead of being sent
 * raw, so a log message cannot move the cursor, retitle the window or change colours. C0 and DEL
 * take caret notation (ESC is `^[`, DEL `^?`), C1 characters `<U+009B>`. Only the CLI's output
 * to a terminal is escaped: the API, and the CLI writing to a pipe or file, keep the bytes as
 * received.
 */
export function terminalSafe(line: string): string {
  if (!UNSAFE_TEST.test(line)) return line;
  return line.replace(UNSAFE, (c) => {
    const code = c.charCodeAt(0);
    if (code < 0x20) return '^' + String.fromCharCode(code + 0x40);
    if (code === 0x7f) return '^?';
    return `<U+${code.toString(16).toUpperCase().padStart(4, '0')}>`;
  });
}

const UNSAFE_TEST = /[\x00-\x08\x0a-\x1f\x7f-\x9f]/;
const UNSAFE = /[\x00-\x08\x0a-\x1f\x7f-\x9f]/g;
