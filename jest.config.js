/** Unit tests run with Pulumi mocks: no cloud, no CLI. Real-tool tests live under tests/real and run from scripts/test.sh. */
module.exports = {
  testEnvironment: "node",
  roots: ["<rootDir>/tests/unit"],
  // Transpile only: `tsc --noEmit` checks the types of the whole tree once (tsconfig.jest.json).
  transform: { "^.+\\.tsx?$": ["ts-jest", { tsconfig: "tsconfig.jest.json" }] },
  // Both cores: the test files are independent programs under mocks (jest's default leaves one core idle).
  maxWorkers: 2,
  // A guard against a hung test, not a speed check: rendering whole programs under mocks takes seconds on an
  // idle machine and much longer under load, and a tight limit made tests fail by the clock. The test run's
  // own budget and ceiling (scripts/lib/steps.sh) say when the suite got slow.
  testTimeout: 600000,
};
