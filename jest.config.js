/** Unit tests run with Pulumi mocks: no cloud, no CLI. Real-tool tests live under tests/real and run from scripts/test.sh. */
module.exports = {
  preset: "ts-jest",
  testEnvironment: "node",
  roots: ["<rootDir>/tests/unit"],
  testTimeout: 30000,
};
