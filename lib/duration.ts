const MS_PER_SECOND = 1000;
const SECONDS_PER_MINUTE = 60;
const SECONDS_PER_HOUR = 3600;

/**
 * describeDuration says a configured duration in words, in the largest unit
 * that divides it: "30 minutes", "8 hours", "10 seconds", "0.5 seconds".
 * The start-up summary and the messages of an ended session use it, so they
 * name the timeouts as they are set now.
 */
export function describeDuration(ms: number): string {
  const seconds = ms / MS_PER_SECOND;
  if (seconds >= SECONDS_PER_HOUR && seconds % SECONDS_PER_HOUR === 0) return plural(seconds / SECONDS_PER_HOUR, 'hour');
  if (seconds >= SECONDS_PER_MINUTE && seconds % SECONDS_PER_MINUTE === 0) return plural(seconds / SECONDS_PER_MINUTE, 'minute');
  return plural(seconds, 'second');
}

function plural(count: number, unit: string): string {
  return `${count} ${unit}${count === 1 ? '' : 's'}`;
}

/** waitInWords says how long to wait before trying again, rounded up: "45 seconds", "1 minute", "15 minutes". */
export function waitInWords(seconds: number): string {
  if (seconds < SECONDS_PER_MINUTE) return plural(Math.max(1, Math.ceil(seconds)), 'second');
  return plural(Math.ceil(seconds / SECONDS_PER_MINUTE), 'minute');
}
