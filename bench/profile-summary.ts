// Summarises a V8 CPU profile by self time, per function and per package: npx tsx bench/profile-summary.ts <file.cpuprofile>.
import { readFileSync } from 'node:fs';

interface Node {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
const profile = JSON.parse(readFileSync(process.argv[2]!, 'utf8')) as { nodes: Node[]; samples: number[]; timeDeltas: number[] };
const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const self = new Map<number, number>();
profile.samples.forEach((id, i) => self.set(id, (self.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)));
const total = [...self.values()].reduce((a, b) => a + b, 0);

const where = (url: string) => {
  const match = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (match) return match[1]!;
  if (url.includes('/src/')) return 'kring:' + url.slice(url.indexOf('/src/') + 5);
  if (url.startsWith('node:')) return url;
  return url === '' ? '(native/gc/idle)' : url.replace(/^.*\//, '');
};
const perFunction = new Map<string, number>();
const perPackage = new Map<string, number>();
for (const [id, us] of self) {
  const frame = byId.get(id)!.callFrame;
  const fn = `${frame.functionName || '(anonymous)'} ${where(frame.url)}:${frame.lineNumber + 1}`;
  perFunction.set(fn, (perFunction.get(fn) ?? 0) + us);
  const pkg = frame.functionName === '(idle)' ? '(idle)' : frame.functionName === '(garbage collector)' ? '(gc)' : where(frame.url);
  perPackage.set(pkg, (perPackage.get(pkg) ?? 0) + us);
}
const show = (title: string, map: Map<string, number>, n: number) => {
  console.log(`\n${title}`);
  for (const [name, us] of [...map].sort((a, b) => b[1] - a[1]).slice(0, n)) {
    console.log(`${((100 * us) / total).toFixed(1).padStart(5)}%  ${name}`);
  }
};
show('self time by package', perPackage, 25);
show('self time by function', perFunction, 40);
