/**
 * Cron schedules evaluated in UTC (`[backup] schedule`), on plain UTC arithmetic.
 *
 * node-cron (used here before) works out every time through `Intl.DateTimeFormat`, even in UTC:
 * the first call loads ICU's locale and time-zone data, whose pages stay in memory for the life of
 * the process — ≈ 8.7 MB more RSS on Node 20 for a daemon with a backup schedule (6.7 MB of them
 * the node binary's ICU data; measured in session 20, docs/PERFORMANCE.md). The daemon touches ICU
 * nowhere else (the lint config forbids the locale APIs in src/).
 *
 * Syntax (node-cron's, without its L, W and # extensions, which are refused with a clear error):
 * 5 fields (minute hour day-of-month month day-of-week) or 6 (second first); each field a list of
 * `*`, `n` or `a-b`, the first and the last optionally followed by a step `/s` (every s-th value
 * from the range's start); month names and week-day names (full or three letters, any case); week
 * day 0–7 (0 and 7 are Sunday); `?` is `*` in the two day fields; @yearly, @annually, @monthly,
 * @weekly, @daily, @midnight and @hourly. As in node-cron, a time matches when every field matches:
 * day of month AND day of week (Vixie cron takes either when both are restricted).
 */

export class CronSyntaxError extends Error {}

/** A parsed schedule. */
export interface CronSchedule {
  readonly expression: string;
  /** The first matching whole second strictly after `afterMs` (Unix ms), in Unix ms. */
  next(afterMs: number): number;
}

const NICKNAMES: Readonly<Record<string, string>> = {
  '@yearly': '0 0 1 1 *',
  '@annually': '0 0 1 1 *',
  '@monthly': '0 0 1 * *',
  '@weekly': '0 0 * * 0',
  '@daily': '0 0 * * *',
  '@midnight': '0 0 * * *',
  '@hourly': '0 * * * *',
};

const MONTHS = ['january', 'february', 'march', 'april', 'may', 'june', 'july', 'august', 'september', 'october', 'november', 'december'];
const WEEKDAYS = ['sunday', 'monday', 'tuesday', 'wednesday', 'thursday', 'friday', 'saturday'];

interface FieldSpec {
  label: string;
  min: number;
  max: number;
  /** name (lower case) → value */
  names?: ReadonlyMap<string, number>;
  /** `?` allowed (the day fields) */
  question?: boolean;
}

function namesOf(list: readonly string[], first: number): Map<string, number> {
  const m = new Map<string, number>();
  list.forEach((name, i) => {
    m.set(name, i + first);
    m.set(name.slice(0, 3), i + first);
  });
  return m;
}

const FIELDS: readonly FieldSpec[] = [
  { label: 'second', min: 0, max: 59 },
  { label: 'minute', min: 0, max: 59 },
  { label: 'hour', min: 0, max: 23 },
  { label: 'day of month', min: 1, max: 31, question: true },
  { label: 'month', min: 1, max: 12, names: namesOf(MONTHS, 1) },
  { label: 'day of week', min: 0, max: 7, names: namesOf(WEEKDAYS, 0), question: true },
];

function fail(expression: string, why: string): never {
  throw new CronSyntaxError(`${JSON.stringify(expression)}: ${why}`);
}

/** The values a field allows, ascending. */
function parseField(expression: string, text: string, spec: FieldSpec): number[] {
  const allowed = new Set<number>();
  const value = (token: string): number => {
    const named = spec.names?.get(token.toLowerCase());
    if (named !== undefined) return named;
    if (!/^\d+$/.test(token)) {
      if (/[LW#]/i.test(token)) fail(expression, `${spec.label} "${text}": L, W and # are not supported`);
      fail(expression, `${spec.label} "${text}": "${token}" is not a number${spec.names !== undefined ? ' or a name' : ''}`);
    }
    const n = Number(token);
    if (n < spec.min || n > spec.max) fail(expression, `${spec.label} "${text}": ${n} is outside ${spec.min}–${spec.max}`);
    return n;
  };
  for (const item of text.split(',')) {
    if (item === '') fail(expression, `${spec.label} "${text}": empty list item`);
    const slash = item.split('/');
    if (slash.length > 2) fail(expression, `${spec.label} "${text}": more than one "/"`);
    const [base, stepText] = slash as [string, string | undefined];
    let step = 1;
    if (stepText !== undefined) {
      if (!/^\d+$/.test(stepText) || Number(stepText) < 1) fail(expression, `${spec.label} "${text}": the step must be a whole number ≥ 1`);
      step = Number(stepText);
    }
    let lo: number;
    let hi: number;
    if (base === '*' || (base === '?' && spec.question === true)) {
      if (base === '?' && stepText !== undefined) fail(expression, `${spec.label} "${text}": "?" takes no step`);
      lo = spec.min;
      hi = spec.max;
    } else {
      const dash = base.split('-');
      if (dash.length > 2 || dash.some((d) => d === '')) fail(expression, `${spec.label} "${text}": "${base}" is not a value or a range`);
      if (dash.length === 1 && stepText !== undefined) fail(expression, `${spec.label} "${text}": a step needs "*" or a range ("${base}-${spec.max}/${stepText}")`);
      lo = value(dash[0]!);
      hi = dash.length === 2 ? value(dash[1]!) : lo;
      if (lo > hi) fail(expression, `${spec.label} "${text}": the range ${base} runs backwards`);
    }
    for (let v = lo; v <= hi; v += step) allowed.add(v);
  }
  return [...allowed].sort((a, b) => a - b);
}

const DAYS_IN_MONTH = [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
/** Days walked at most looking for the next match (a 29 February on a given week day recurs within 28 years). */
const MAX_DAYS = 366 * 100;

/** Parse `expression`; throws CronSyntaxError saying what is wrong. */
export function parseCron(expression: string): CronSchedule {
  const trimmed = expression.trim().replace(/\s+/g, ' ');
  const resolved = NICKNAMES[trimmed.toLowerCase()] ?? trimmed;
  if (resolved.startsWith('@')) fail(expression, `unknown nickname (${Object.keys(NICKNAMES).join(', ')})`);
  const parts = resolved === '' ? [] : resolved.split(' ');
  if (parts.length !== 5 && parts.length !== 6) fail(expression, `expected 5 or 6 fields, got ${parts.length}`);
  const texts = parts.length === 5 ? ['0', ...parts] : parts;
  const [seconds, minutes, hours, days, months, weekdaysRaw] = texts.map((t, i) => parseField(expression, t, FIELDS[i]!)) as [number[], number[], number[], number[], number[], number[]];
  const weekdays = new Set(weekdaysRaw.map((d) => d % 7));
  const daySet = new Set(days);
  const monthSet = new Set(months);
  if (!months.some((m) => days.some((d) => d <= DAYS_IN_MONTH[m - 1]!))) {
    fail(expression, `no month in "${texts[4]}" has a day "${texts[3]}"`);
  }

  const dayMatches = (t: Date): boolean => monthSet.has(t.getUTCMonth() + 1) && daySet.has(t.getUTCDate()) && weekdays.has(t.getUTCDay());

  /** The first allowed second of the day at or after `from` (seconds since midnight), or null. */
  const firstInDay = (from: number): number | null => {
    for (const h of hours) {
      if ((h + 1) * 3600 <= from) continue;
      for (const m of minutes) {
        if (h * 3600 + (m + 1) * 60 <= from) continue;
        for (const s of seconds) {
          const t = h * 3600 + m * 60 + s;
          if (t >= from) return t;
        }
      }
    }
    return null;
  };

  return {
    expression,
    next(afterMs: number): number {
      const startSec = Math.floor(afterMs / 1000) + 1;
      let dayStart = Math.floor(startSec / 86_400) * 86_400;
      let from = startSec - dayStart;
      for (let i = 0; i < MAX_DAYS; i++) {
        if (dayMatches(new Date(dayStart * 1000))) {
          const t = firstInDay(from);
          if (t !== null) return (dayStart + t) * 1000;
        }
        dayStart += 86_400;
        from = 0;
      }
      throw new CronSyntaxError(`${JSON.stringify(expression)}: no matching time within ${MAX_DAYS / 366} years`);
    },
  };
}

/** null when `expression` parses and has a next time; otherwise what is wrong with it. */
export function cronProblem(expression: string, nowMs = Date.now()): string | null {
  try {
    parseCron(expression).next(nowMs);
    return null;
  } catch (err) {
    if (err instanceof CronSyntaxError) return err.message;
    throw err;
  }
}

/** A running schedule. */
export interface CronTask {
  /** Unix ms of the next run, or null once stopped. */
  nextRun(): number | null;
  stop(): void;
}

/** Longest setTimeout delay Node accepts (a longer one fires at once). */
const MAX_DELAY_MS = 2 ** 31 - 1;

/**
 * Call `run` at every time of `schedule`. Times that pass while the process cannot run (a blocked
 * event loop, a suspended machine, the wall clock set forward) give one late run, not one per time
 * missed; the wall clock set back delays the next run to its time. `run` must not throw (a rejection is
 * ignored here: the caller handles its own failures); overlapping runs are the caller's to join.
 */
export function scheduleCron(schedule: CronSchedule, run: () => unknown, now: () => number = Date.now): CronTask {
  let target: number | null = schedule.next(now());
  let timer: NodeJS.Timeout | null = null;
  const arm = (): void => {
    if (target === null) return;
    timer = setTimeout(fire, Math.min(Math.max(target - now(), 0), MAX_DELAY_MS));
    timer.unref();
  };
  const fire = (): void => {
    timer = null;
    if (target === null) return;
    const t = now();
    if (t < target) {
      arm(); // a long wait split in pieces, or the timer ahead of the wall clock
      return;
    }
    const due = target;
    target = schedule.next(Math.max(t, due));
    arm();
    try {
      void Promise.resolve(run()).catch(() => undefined);
    } catch {
      // the caller's to log
    }
  };
  arm();
  return {
    nextRun: () => target,
    stop: () => {
      target = null;
      if (timer !== null) clearTimeout(timer);
      timer = null;
    },
  };
}
