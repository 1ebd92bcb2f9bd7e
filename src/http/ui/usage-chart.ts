// A keypair's usage over its last days as a small bar chart, rendered on the
// server as inline SVG (nothing loaded from elsewhere, no script): one bar per
// UTC day, successful authentications above the axis, counted failures below
// it, so that a day of failures stands out whatever the volume of successes.
// Colours come from the stylesheet (classes), so the dark scheme applies.
import type { UsageDayView } from '../../domain/daily-usage.ts';

const WIDTH = 600;
const HEIGHT = 120;
const AXIS = 84; // the y of the axis: successes above, failures below (a quarter of the height)

const fmt = (n: number) => n.toLocaleString('en-US');

/** The chart, and a one-line summary that says the same in words (also its accessible name). */
export function usageChart(days: UsageDayView[]): { svg: string; summary: string } {
  const authenticated = days.reduce((sum, d) => sum + d.authenticated, 0);
  const failed = days.reduce((sum, d) => sum + d.failed, 0);
  const summary = `Last ${days.length} days: ${fmt(authenticated)} successful authentication${authenticated === 1 ? '' : 's'}, ${fmt(failed)} failed`;
  const top = Math.max(1, ...days.map((d) => d.authenticated));
  const bottom = Math.max(1, ...days.map((d) => d.failed));
  const slot = WIDTH / Math.max(1, days.length);
  const bar = Math.max(1, slot - 2);
  const bars = days.map((d, i) => {
    const x = (i * slot + 1).toFixed(1);
    const up = d.authenticated ? Math.max(1, (d.authenticated / top) * (AXIS - 4)) : 0;
    const down = d.failed ? Math.max(1, (d.failed / bottom) * (HEIGHT - AXIS - 4)) : 0;
    const title = `<title>${d.day}: ${fmt(d.authenticated)} authenticated, ${fmt(d.failed)} failed</title>`;
    return `<g>${title}${up ? `<rect class="usage-ok" x="${x}" y="${(AXIS - up).toFixed(1)}" width="${bar.toFixed(1)}" height="${up.toFixed(1)}"/>` : ''}`
      + `${down ? `<rect class="usage-failed" x="${x}" y="${AXIS}" width="${bar.toFixed(1)}" height="${down.toFixed(1)}"/>` : ''}`
      + `<rect class="usage-hit" x="${x}" y="0" width="${bar.toFixed(1)}" height="${HEIGHT}"/></g>`;
  }).join('');
  const svg = `<svg class="usage-chart" viewBox="0 0 ${WIDTH} ${HEIGHT}" role="img" aria-label="${summary}" preserveAspectRatio="none">`
    + `<line class="usage-axis" x1="0" x2="${WIDTH}" y1="${AXIS}" y2="${AXIS}"/>${bars}</svg>`;
  return { svg, summary };
}
