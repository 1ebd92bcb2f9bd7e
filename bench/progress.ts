// Progress on stderr while the benchmark runs (stdout carries the results).
// On a terminal: one status line, rewritten every second; otherwise one line per step.

function clock(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  return s >= 60 ? `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s` : `${s}s`;
}

export class Progress {
  readonly #tty = Boolean(process.stderr.isTTY);
  readonly #totalSteps: number;
  readonly #stepSeconds: number;
  #done = 0;
  #label = '';
  #stepStarted = 0;
  #started = performance.now();

  /** `totalSteps` measured steps of about `stepSeconds` each (for the time estimate). */
  constructor(totalSteps: number, stepSeconds: number) {
    this.#totalSteps = totalSteps;
    this.#stepSeconds = stepSeconds;
  }

  #write(line: string, final = false): void {
    if (this.#tty) process.stderr.write(`\r\x1b[K${line}${final ? '\n' : ''}`);
    else if (final) process.stderr.write(`${line}\n`);
  }

  #prefix(): string {
    const left = (this.#totalSteps - this.#done) * this.#stepSeconds - (performance.now() - this.#stepStarted) / 1000;
    return `[${String(Math.min(this.#done + 1, this.#totalSteps)).padStart(String(this.#totalSteps).length)}/${this.#totalSteps}, ~${clock(left)} left]`;
  }

  /** A message outside the measured steps (setup, seeding). */
  note(message: string): void {
    this.#write(`${message}`, true);
  }

  /** Rewrites the status line (TTY only): for long unmeasured work such as seeding. */
  status(message: string): void {
    if (this.#tty) this.#write(message);
  }

  /** Starts a measured step. */
  step(label: string): void {
    this.#label = label;
    this.#stepStarted = performance.now();
    if (this.#tty) this.#write(`${this.#prefix()} ${label}`);
    else this.#write(`${this.#prefix()} ${label}`, true);
  }

  /** Once a second during a step. */
  tick = (): void => {
    if (this.#tty) this.#write(`${this.#prefix()} ${this.#label} … ${clock((performance.now() - this.#stepStarted) / 1000)}`);
  };

  /** Ends a step with a one-line outcome. */
  stepDone(outcome: string): void {
    this.#done++;
    this.#write(`  ${this.#label}: ${outcome}`, true);
  }

  finish(): void {
    this.#write(`done in ${clock((performance.now() - this.#started) / 1000)}`, true);
  }
}
