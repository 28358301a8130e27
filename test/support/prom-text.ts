/**
 * A small parser of the Prometheus text exposition format (version 0.0.4) for tests: samples by
 * name and labels, with the HELP/TYPE lines kept per metric family.
 */
export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface Exposition {
  samples: Sample[];
  types: Map<string, string>;
  help: Map<string, string>;
  /** The one sample of `name` whose labels include `labels`; undefined if none; throws if several. */
  get(name: string, labels?: Record<string, string>): number | undefined;
  /** Every sample of `name`. */
  all(name: string): Sample[];
}

function unescapeLabel(v: string): string {
  return v.replace(/\\(["\\n])/g, (_m, c: string) => (c === 'n' ? '\n' : c));
}

function parseLabels(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  const re = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"\s*,?/gy;
  let m: RegExpExecArray | null;
  while ((m = re.exec(text)) !== null) out[m[1]!] = unescapeLabel(m[2]!);
  if (re.lastIndex !== 0 && re.lastIndex < text.length) throw new Error(`bad labels: ${text}`);
  return out;
}

function parseValue(v: string): number {
  // Prometheus parses these case-insensitively (Go's ParseFloat); prom-client writes "Nan".
  const l = v.toLowerCase();
  if (l === '+inf' || l === 'inf') return Number.POSITIVE_INFINITY;
  if (l === '-inf') return Number.NEGATIVE_INFINITY;
  if (l === 'nan') return Number.NaN;
  const n = Number(v);
  if (Number.isNaN(n)) throw new Error(`bad sample value ${v}`);
  return n;
}

export function parseExposition(text: string): Exposition {
  const samples: Sample[] = [];
  const types = new Map<string, string>();
  const help = new Map<string, string>();
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    if (line.startsWith('# HELP ')) {
      const [name, ...rest] = line.slice(7).split(' ');
      help.set(name!, rest.join(' '));
      continue;
    }
    if (line.startsWith('# TYPE ')) {
      const [name, type] = line.slice(7).split(' ');
      types.set(name!, type!);
      continue;
    }
    if (line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)(\s+\d+)?$/.exec(line);
    if (m === null) throw new Error(`not an exposition line: ${line}`);
    samples.push({ name: m[1]!, labels: m[3] !== undefined ? parseLabels(m[3]) : {}, value: parseValue(m[4]!) });
  }
  const matches = (s: Sample, labels: Record<string, string>): boolean => Object.entries(labels).every(([k, v]) => s.labels[k] === v);
  return {
    samples,
    types,
    help,
    get(name, labels = {}) {
      const found = samples.filter((s) => s.name === name && matches(s, labels));
      if (found.length > 1) throw new Error(`${found.length} samples of ${name} match ${JSON.stringify(labels)}`);
      return found[0]?.value;
    },
    all(name) {
      return samples.filter((s) => s.name === name);
    },
  };
}
