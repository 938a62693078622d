/**
 * The benchmark's charts: Vega-Lite specs compiled and rendered to SVG by Vega's headless View
 * (no canvas needed for SVG). Written next to docs/benchmarks.md.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

type Datum = Record<string, string | number>;

async function render(spec: Record<string, unknown>): Promise<string> {
  const vega = await import('vega');
  // vega-lite's types resolve only under node16/bundler module resolution; its compile() is all we use.
  const vegaLite: string = 'vega-lite';
  const vl = (await import(vegaLite)) as { compile(spec: unknown): { spec: Parameters<typeof vega.parse>[0] } };
  const compiled = vl.compile({ $schema: 'https://vega.github.io/schema/vega-lite/v6.json', background: 'white', ...spec }).spec;
  const view = new vega.View(vega.parse(compiled), { renderer: 'none' });
  const svg = await view.toSVG();
  view.finalize();
  return svg;
}

/** Every sample of each sync scenario, as ticks, one panel per simulator latency (its own x scale). */
export function latencySpec(values: Datum[]): Record<string, unknown> {
  return {
    title: 'Sync order latency, every sample (ms, one call at a time)',
    data: { values },
    facet: { row: { field: 'latency', type: 'nominal', title: 'simulator latency per call' } },
    resolve: { scale: { x: 'independent' } },
    spec: {
      width: 560,
      height: 110,
      layer: [
        { mark: { type: 'tick', opacity: 0.5 }, encoding: { x: { field: 'ms', type: 'quantitative', title: 'ms' }, y: { field: 'scenario', type: 'nominal', title: null }, color: { field: 'scenario', type: 'nominal', legend: null } } },
        { mark: { type: 'tick', color: 'black', thickness: 3 }, encoding: { x: { aggregate: 'median', field: 'ms', type: 'quantitative' }, y: { field: 'scenario', type: 'nominal' } } },
      ],
    },
  };
}

export function throughputSpec(values: Datum[]): Record<string, unknown> {
  return {
    title: 'Completed per second vs worker processes (burst, sync)',
    data: { values },
    width: 520,
    height: 300,
    mark: { type: 'line', point: true },
    encoding: {
      x: { field: 'workers', type: 'ordinal', title: 'worker processes' },
      y: { field: 'perSecond', type: 'quantitative', title: 'completed per second' },
      color: { field: 'series', type: 'nominal', title: null, legend: { orient: 'bottom', columns: 2 } },
      strokeDash: { field: 'kind', type: 'nominal', title: null },
    },
  };
}

export function memorySpec(values: Datum[]): Record<string, unknown> {
  return {
    title: 'RSS over orders (one worker process, one API process)',
    data: { values },
    width: 520,
    height: 260,
    mark: { type: 'line', point: true },
    encoding: {
      x: { field: 'orders', type: 'quantitative', title: 'orders completed' },
      y: { field: 'MiB', type: 'quantitative', title: 'RSS (MiB)', scale: { zero: true } },
      color: { field: 'process', type: 'nominal', title: null },
    },
  };
}

/** Renders each spec into `dir/<name>.svg`; returns the file names written. */
export async function writeCharts(dir: string, charts: Record<string, Record<string, unknown>>): Promise<string[]> {
  const written: string[] = [];
  for (const [name, spec] of Object.entries(charts)) {
    const file = `${name}.svg`;
    writeFileSync(join(dir, file), await render(spec));
    written.push(file);
  }
  return written;
}
