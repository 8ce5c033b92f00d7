/**
 * Where a verb's words go: progress and tables for a person on stdout, or with --json one
 * JSON document for a script (and no progress). Errors always go to stderr (main.ts).
 */
export interface GlobalOptions {
  readonly nats: string;
  readonly json: boolean;
}

export class Output {
  constructor(readonly json: boolean) {}

  /** A progress or result line, for people only. */
  say(line: string): void {
    if (!this.json) process.stdout.write(`${line}\n`);
  }

  /** The result: JSON for scripts, else the text made by `human`. */
  result(value: unknown, human: () => string): void {
    if (this.json) process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
    else {
      const text = human();
      if (text !== '') process.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
    }
  }
}
