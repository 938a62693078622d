/** Latency samples, their summaries, and the markdown tables the benchmark prints and writes. */

export interface Summary {
  n: number;
  p50: number;
  p99: number;
  mean: number;
}

/** Nearest-rank percentile of sorted samples (with n < 100, p99 is the maximum). */
function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.max(0, Math.ceil((p / 100) * sorted.length) - 1)] ?? NaN;
}

export function summarize(samples: readonly number[]): Summary {
  const sorted = [...samples].sort((a, b) => a - b);
  const mean = sorted.reduce((sum, v) => sum + v, 0) / sorted.length;
  return { n: sorted.length, p50: percentile(sorted, 50), p99: percentile(sorted, 99), mean };
}

/** Samples per (row, simulator latency). */
export class Samples {
  private readonly byKey = new Map<string, number[]>();

  add(row: string, latencyMs: number, ms: number): void {
    const key = `${row}@${latencyMs}`;
    const list = this.byKey.get(key) ?? [];
    list.push(ms);
    this.byKey.set(key, list);
  }

  /** Median over rounds of a/b, for two rows measured once each per round: robust to load that drifts between rounds. */
  pairedRatio(a: string, b: string, latencyMs: number): number | undefined {
    const as = this.byKey.get(`${a}@${latencyMs}`) ?? [];
    const bs = this.byKey.get(`${b}@${latencyMs}`) ?? [];
    if (!as.length || as.length !== bs.length) return undefined;
    return summarize(as.map((v, i) => v / bs[i]!)).p50;
  }

  raw(row: string, latencyMs: number): readonly number[] {
    return this.byKey.get(`${row}@${latencyMs}`) ?? [];
  }

  summary(row: string, latencyMs: number): Summary | undefined {
    const list = this.byKey.get(`${row}@${latencyMs}`);
    return list?.length ? summarize(list) : undefined;
  }
}

export const ms = (v: number | undefined): string => (v === undefined || Number.isNaN(v) ? '–' : v.toFixed(1));
export const ratio = (a: number | undefined, b: number | undefined): string => (a === undefined || b === undefined || !b ? '–' : `${(a / b).toFixed(2)}×`);

/** A GitHub-flavoured markdown table; first column left-aligned, the rest right-aligned, padded so it reads in a terminal too. */
export function markdownTable(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const cell = (text: string, i: number) => (i === 0 ? text.padEnd(widths[i]!) : text.padStart(widths[i]!));
  const line = (cells: string[]) => `| ${cells.map(cell).join(' | ')} |`;
  const rule = `|${widths.map((w, i) => (i === 0 ? `:${'-'.repeat(w + 1)}` : `${'-'.repeat(w + 1)}:`)).join('|')}|`;
  return [line(header), rule, ...rows.map(line)].join('\n');
}
