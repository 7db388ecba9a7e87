// ESLint: the TypeScript rules (type-aware), Pulumi's rules against Outputs in
// template literals, and Prettier for layout (run separately: `npm run format:check`).
import pulumi from "@pulumi/eslint-plugin";
import tseslint from "typescript-eslint";

export default tseslint.config(
    {
        // examples/single-component imports this package by name: only an install resolves it; its e2e test compiles it for real.
        ignores: [
            "examples/single-component/",
            "node_modules/",
            "bin/",
            "dist/",
            ".pulumi-home/",
            ".dev/",
            "bench/results/",
            "bench/work/",
            "**/*.js",
            "**/*.mjs",
        ],
    },
    ...tseslint.configs.recommendedTypeChecked,
    {
        languageOptions: {
            parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
        },
        plugins: { pulumi },
        rules: {
            "pulumi/no-output-in-template-literal": "error",
            "pulumi/no-output-instance-in-template-literal": "error",
            // Mocks and pg rows are untyped by nature; keep `any` visible but allowed there.
            "@typescript-eslint/no-explicit-any": "off",
            // Dynamic providers implement a Promise-returning interface; not every method needs to await.
            "@typescript-eslint/require-await": "off",
            "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
        },
    },
    {
        // Tests talk to untyped rows and mock inputs.
        files: ["test/**/*.ts", "bench/**/*.ts"],
        rules: {
            "@typescript-eslint/no-unsafe-assignment": "off",
            "@typescript-eslint/no-unsafe-member-access": "off",
            "@typescript-eslint/no-unsafe-argument": "off",
            "@typescript-eslint/no-unsafe-call": "off",
            "@typescript-eslint/no-unsafe-return": "off",
        },
    },
);
