// A tap reporter (a Transform stream, loaded by tap from .taprc) that prints one line per test
// file, the whole TAP of any file that failed, and ends with exactly `N passed, N failed`.
// Counted: the test points directly inside each file (its t.test blocks and top-level asserts);
// a file that fails without a failing test point (a crash while loading) counts as one failure.
import { Transform } from 'node:stream';

const POINT = /^( {4})?(not ok|ok) \d+ - ?(.*)$/;

export default class SummaryReporter extends Transform {
  constructor() {
    super();
    this.partial = '';
    this.fileLines = [];
    this.fileFailed = 0;
    this.passed = 0;
    this.failed = 0;
    this.skipped = 0;
    this.echoDiag = false;
  }

  _transform(chunk, _enc, done) {
    const text = this.partial + chunk.toString('utf8');
    const lines = text.split('\n');
    this.partial = lines.pop();
    for (const line of lines) this.line(line);
    done();
  }

  _flush(done) {
    if (this.partial) this.line(this.partial);
    const skipped = this.skipped ? `, ${this.skipped} skipped` : '';
    this.push(`\n${this.passed} passed, ${this.failed} failed${skipped}\n`);
    done();
  }

  line(line) {
    // the YAML block after a failed file's own point (exit code, signal, timeout) is printed too
    if (this.echoDiag) {
      if (line.startsWith('  ')) {
        this.push(`${line}\n`);
        if (line === '  ...') this.echoDiag = false;
        return;
      }
      this.echoDiag = false;
    }
    this.fileLines.push(line);
    const m = POINT.exec(line);
    if (!m) return;
    const nested = m[1] !== undefined;
    const ok = m[2] === 'ok';
    const directive = /#\s*(SKIP|TODO)/i.test(m[3]);
    if (nested) {
      if (directive) this.skipped++;
      else if (ok) this.passed++;
      else { this.failed++; this.fileFailed++; }
      return;
    }
    // a whole file finished
    if (!ok && this.fileFailed === 0) this.failed++;
    this.push(`${ok ? 'ok    ' : 'FAIL  '} ${m[3]}\n`);
    if (!ok) {
      this.push(this.fileLines.join('\n') + '\n');
      this.echoDiag = true;
    }
    this.fileLines = [];
    this.fileFailed = 0;
  }
}
