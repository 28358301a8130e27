/**
 * `p`, or null if it does not settle within `ms`. `p` keeps running (its later result is ignored by
 * the caller); the timer is unref'd so a bound alone never keeps the process alive.
 */
export async function bounded<T>(p: Promise<T>, ms: number): Promise<T | null> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<null>((resolve) => {
    timer = setTimeout(() => resolve(null), ms);
    timer.unref();
  });
  try {
    return await Promise.race([p, timeout]);
  } finally {
    if (timer !== undefined) clearTimeout(timer);
  }
}
