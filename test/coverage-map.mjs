// Which sources each test file's coverage counts for. The startup test spawns the real service
// in child processes whose coverage does not merge with the in-process tests' (it would mark
// loaded-but-unused code as uncovered), so it counts for nothing.
export default function coverageMap(testFile) {
  return testFile.replace(/\\/g, '/').endsWith('test/startup.test.ts') ? null : [];
}
