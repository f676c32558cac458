import js from "@eslint/js";
import tseslint from "typescript-eslint";

export default tseslint.config(
  { ignores: ["**/node_modules/", "data/", "**/dist/", "coverage/"] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { console: "readonly", process: "readonly", URL: "readonly" } },
    rules: {
      "@typescript-eslint/no-explicit-any": "error",
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
      "@typescript-eslint/consistent-type-imports": "error",
      "no-console": "off",
      eqeqeq: ["error", "always"],
    },
  },
  {
    // The variable-time SM2 signer is for keys that protect nothing (the sandbox's simulated
    // networks): paycore's own keys sign in constant time (src/kernel/crypto/sm2.ts).
    files: ["src/**/*.ts"],
    ignores: ["src/sandbox/**", "src/kernel/crypto/**"],
    rules: {
      "no-restricted-imports": [
        "error",
        { patterns: [{ group: ["**/kernel/crypto", "**/kernel/crypto/index*", "**/kernel/crypto/sm2*"], importNames: ["sm2SignVariableTime", "baseMulXBatchVariableTime"], message: "variable-time SM2 is for the sandbox's simulated networks only" }] },
      ],
    },
  },
);
