#!/usr/bin/env node
// Runs before `npm test` (the `pretest` script): the Debian packages the tests use are installed
// when missing, with one line saying which, or the run stops at once with the exact command.
// `npm ci && npm start` needs none of them.
import { execFileSync, spawnSync } from 'node:child_process';

/** command on PATH -> the Debian package(s) that provide it */
const NEEDED = [
  ['openssl', ['openssl']],
  ['curl', ['curl', 'ca-certificates']],
  ['python3', ['python3']],
  ['chromium', ['chromium']],
  ['nats-server', ['nats-server']],
  ['pebble', ['pebble']],
];

function onPath(cmd) {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
}

const missing = NEEDED.filter(([cmd]) => !onPath(cmd)).flatMap(([, pkgs]) => pkgs);
if (missing.length === 0) process.exit(0);

const line = `apt-get update && apt-get install -y --no-install-recommends ${missing.join(' ')}`;
const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
if (!isRoot || !onPath('apt-get')) {
  console.error(`the tests need Debian packages that are missing; run as root:\n  ${line}`);
  process.exit(1);
}
console.log(`installing the Debian packages the tests need: ${missing.join(' ')}`);
try {
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  execFileSync('apt-get', ['update', '-qq'], { stdio: ['ignore', 'ignore', 'inherit'], env });
  execFileSync('apt-get', ['install', '-y', '-qq', '--no-install-recommends', ...missing], { stdio: ['ignore', 'ignore', 'inherit'], env });
} catch {
  console.error(`installing failed; run as root:\n  ${line}`);
  process.exit(1);
}
