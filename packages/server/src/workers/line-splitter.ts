/**
 * Splits a byte stream into lines. A partial last line is held until its newline arrives or
 * `flush()` is called (at the end of a call, so a `process.stdout.write('no newline')` still
 * becomes a line of that call). Very long lines are cut at `maxLine` so one runaway write
 * cannot grow memory without bound.
 */
export class LineSplitter {
  private pending = '';

  constructor(
    private readonly onLine: (line: string) => void,
    private readonly maxLine = 64 * 1024,
  ) {}

  push(chunk: Buffer | string): void {
    let text = this.pending + chunk.toString();
    let nl: number;
    while ((nl = text.indexOf('\n')) !== -1) {
      this.emit(text.slice(0, nl));
      text = text.slice(nl + 1);
    }
    while (text.length > this.maxLine) {
      this.emit(text.slice(0, this.maxLine));
      text = text.slice(this.maxLine);
    }
    this.pending = text;
  }

  flush(): void {
    if (this.pending.length > 0) this.emit(this.pending);
    this.pending = '';
  }

  private emit(line: string): void {
    this.onLine(line.endsWith('\r') ? line.slice(0, -1) : line);
  }
}
