// Time as the domain sees it. Tests pass a clock they control, to reach a
// grace period's or a lock's boundary without waiting for it.
export interface Clock {
  now(): Date;
}

export const systemClock: Clock = { now: () => new Date() };
