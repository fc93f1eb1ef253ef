// Lint: typescript-eslint's type-aware recommended rules, plus the few that
// matter most for network code (a forgotten promise is a lost message).
import js from "@eslint/js";
import tseslint from "typescript-eslint";
import outlast from "./eslint-rules/import-direction.js";

export default tseslint.config(
  { ignores: ["dist/", ".build-*/", "node_modules/", "scripts/", "eslint-rules/", "eslint.config.js"] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      "@typescript-eslint/no-floating-promises": "error",
      "@typescript-eslint/consistent-type-imports": "error",
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
      "no-console": "error",
    },
  },
  {
    // cli -> client/server/proxy -> protocol/outbox -> errors; see eslint-rules/import-direction.js
    files: ["src/**/*.ts"],
    plugins: { outlast },
    rules: { "outlast/import-direction": "error" },
  },
  {
    files: ["src/cli/**/*.ts", "bench/**/*.ts", "test/**/*.ts"],
    rules: { "no-console": "off" },
  },
  {
    files: ["test/**/*.ts"],
    rules: {
      "@typescript-eslint/no-unsafe-assignment": "off",
      "@typescript-eslint/no-unsafe-member-access": "off",
      "@typescript-eslint/no-unsafe-call": "off",
      "@typescript-eslint/no-unsafe-argument": "off",
      "@typescript-eslint/no-floating-promises": [
        "error",
        {
          allowForKnownSafeCalls: [
            { from: "package", name: ["test", "it", "describe", "suite"], package: "node:test" },
          ],
        },
      ],
    },
  },
);
