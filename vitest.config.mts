import { defineConfig } from "vitest/config";

// Two tiers: fast unit tests under Pulumi mocks, and end-to-end tests that run
// the real Pulumi engine against a real PostgreSQL (and Docker) one file at a time.
export default defineConfig({
    test: {
        projects: [
            {
                test: {
                    name: "unit",
                    include: ["test/unit/**/*.test.ts"],
                    testTimeout: 20_000,
                },
            },
            {
                test: {
                    name: "e2e",
                    include: ["test/e2e/**/*.test.ts"],
                    globalSetup: ["test/e2e/globalSetup.ts"],
                    testTimeout: 600_000,
                    hookTimeout: 900_000,
                    fileParallelism: false,
                    sequence: { concurrent: false },
                },
            },
        ],
    },
});
