// How the public pages print stewardship figures (a share, a duration), shared by stewardship.js and compare.js.

export function share(value) {
  return value === null ? "no revocations yet" : `${(value * 100).toFixed(1)} %`;
}

export function duration(seconds) {
  if (seconds === null) return "none yet";
  if (seconds < 120) return `${seconds} s`;
  if (seconds < 7200) return `${(seconds / 60).toFixed(1)} min`;
  return `${(seconds / 3600).toFixed(1)} h`;
}
