/**
 * The cluster column of the benchmark (issue 14): the same sync order path on three Temporal
 * topologies, each on a fresh environment — the dev server, the local cluster (scripts/lib/cluster:
 * PostgreSQL, mTLS, 8 shards) with two history processes, and with one — and the "Cluster vs dev
 * server" section of docs/benchmarks.md, written in place so the rest of the file stays as its own
 * run left it.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism, loadavg } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { clusterInstalled, startCluster } from '../scripts/lib/cluster';
import { PG_BIN } from '../scripts/lib/cluster/postgres';
import { TEMPORAL_SERVER } from '../scripts/lib/cluster/temporal';
import { DATA_DIR } from '../scripts/lib/local';
import { startEnvironment } from './environment';
import { burst } from './processes';
import { check, createBench } from './scenarios';
import { markdownTable, ms, ratio, summarize, type Summary } from './stats';

export interface TopologySettings {
  n: number;
  warmup: number;
  burst: number;
  concurrency: number;
  devServerArgs: readonly string[];
}

interface Topology {
  label: string;
  /** Sequential edge sync POSTs, ms. */
  sequential: Summary;
  burst: { count: number; wallMs: number; latency: Summary };
  /** Time until the topology answered (cluster: PostgreSQL, schema check, every service, namespace). */
  startMs: number;
}

const TOPOLOGIES = [
  { label: 'dev server: 1 process, 1 shard, SQLite in memory', historyProcesses: 0 },
  { label: 'cluster: 2 history processes, 8 shards, PostgreSQL, mTLS', historyProcesses: 2 },
  { label: 'cluster: 1 history process, 8 shards, PostgreSQL, mTLS', historyProcesses: 1 },
] as const;

/** Edge sync POST → 201 on each topology, no added downstream latency: warm-up, `n` sequential calls, then one burst. */
async function compareTopologies(settings: TopologySettings, log: (m: string) => void, checkDeadline: () => void): Promise<Topology[]> {
  if (!clusterInstalled()) {
    log('the cluster is not installed (bash scripts/install-cluster.sh): no cluster column');
    return [];
  }
  const results: Topology[] = [];
  for (const topology of TOPOLOGIES) {
    checkDeadline();
    log(`topology: ${topology.label}`);
    const t0 = performance.now();
    // A new namespace per start: the database is kept in .data/bench/cluster between runs.
    const cluster = topology.historyProcesses
      ? await startCluster({ dir: join(DATA_DIR, 'bench', 'cluster'), historyProcesses: topology.historyProcesses, namespace: `bench-${Date.now().toString(36)}`, restartDelayMs: 0, log })
      : undefined;
    try {
      const env = await startEnvironment({ log, devServerArgs: settings.devServerArgs, temporalEnv: cluster?.env });
      const startMs = performance.now() - t0;
      try {
        const bench = await createBench(env, 'bench-topology');
        const sync = () => bench.postOrder().then((r) => check(r.status === 201 && r.body.status === 'completed', 'topology POST', r));
        for (let i = 0; i < settings.warmup; i++) await sync();
        const latencies: number[] = [];
        for (let i = 0; i < settings.n; i++) {
          const t = performance.now();
          await sync();
          latencies.push(performance.now() - t);
        }
        const b = await burst(settings.burst, settings.concurrency, sync);
        results.push({ label: topology.label, sequential: summarize(latencies), burst: { count: settings.burst, ...b }, startMs });
      } finally {
        await env.stop();
      }
    } finally {
      await cluster?.stop();
    }
  }
  return results;
}

function renderTopologies(topologies: Topology[], settings: TopologySettings): string {
  const topologyTable = topologies.length
    ? markdownTable(
        ['edge sync POST → 201 @0ms, by Temporal topology', 'up in s', 'p50 ms', 'p99 ms', 'mean ms', `burst sagas/s (${settings.burst}, ${settings.concurrency} concurrent)`, 'burst p50 ms', 'burst p99 ms'],
        topologies.map((t) => [t.label, (t.startMs / 1000).toFixed(1), ms(t.sequential.p50), ms(t.sequential.p99), ms(t.sequential.mean), (t.burst.count / (t.burst.wallMs / 1000)).toFixed(1), ms(t.burst.latency.p50), ms(t.burst.latency.p99)]),
      )
    : '(not measured: BENCH_CLUSTER=0, or the cluster is not installed)';
  const byLabel = (n: number) => topologies.find((t) => t.label === TOPOLOGIES[n]!.label);
  const rate = (t?: Topology) => (t ? t.burst.count / (t.burst.wallMs / 1000) : NaN);
  const topologyRatios = topologies.length
    ? markdownTable(
        ['ratio', 'sequential p50', 'burst sagas/s'],
        [
          ['cluster (2 history) / dev server', ratio(byLabel(1)?.sequential.p50, byLabel(0)?.sequential.p50), ratio(rate(byLabel(1)), rate(byLabel(0)))],
          ['2 history processes / 1', ratio(byLabel(1)?.sequential.p50, byLabel(2)?.sequential.p50), ratio(rate(byLabel(1)), rate(byLabel(2)))],
        ],
      )
    : '';
  return `${topologyTable}

${topologyRatios}

Each topology on a fresh environment (the same API, workers and simulators), no added downstream
latency, ${settings.warmup} warm-up calls, ${settings.n} sequential calls, then the burst. The cluster is \`npm run cluster\`'s
(scripts/lib/cluster): frontend, matching, history and internal worker as separate processes on
PostgreSQL 15 (persistence and visibility, default settings: fsync on), clients over mTLS; "up in"
counts from nothing to a ready API, with the cluster's database and certificates already made.
Everything shares this machine's ${availableParallelism()} cores, so a second history process adds work and no cores: this
measures overhead, not scale-out.`;
}

/** Measures the topologies and replaces the "Cluster vs dev server" section of `doc` (or adds it before Findings). */
export async function updateTopologySection(doc: string, settings: TopologySettings, log: (m: string) => void, checkDeadline: () => void, commit: string): Promise<string> {
  const startedAt = Date.now();
  const loadAtStart = loadavg()[0]!;
  const topologies = await compareTopologies(settings, log, checkDeadline);
  const section = `## Cluster vs dev server

Measured on ${new Date(startedAt).toISOString()} at ${commit} (${clusterVersions()}), load average
${loadAtStart.toFixed(1)} at the start and ${loadavg()[0]!.toFixed(1)} at the end (\`BENCH_CLUSTER=only npm run bench\` measures just this section).

${renderTopologies(topologies, settings)}

`;
  const text = readFileSync(doc, 'utf8');
  const at = /^## Cluster vs dev server\n[\s\S]*?(?=^## )/m;
  const updated = at.test(text) ? text.replace(at, section) : /^## Findings$/m.test(text) ? text.replace(/^## Findings$/m, `${section}## Findings`) : `${text}\n${section}`;
  writeFileSync(doc, updated);
  process.stdout.write(section);
  log(`updated the cluster section of ${doc}`);
  return section;
}

function clusterVersions(): string {
  if (!clusterInstalled()) return 'not installed';
  const server = execFileSync(TEMPORAL_SERVER, ['--version'], { encoding: 'utf8' }).trim();
  const postgres = execFileSync(join(PG_BIN, 'postgres'), ['--version'], { encoding: 'utf8' }).trim();
  return `${server}; ${postgres}`;
}
