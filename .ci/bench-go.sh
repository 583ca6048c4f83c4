#!/usr/bin/env bash
# Go micro-benchmarks of the performance issue (#8), in one run so their ratios compare:
#   - bootstrap: whole requests through the production router (GET /healthz, /users/me,
#     /tenant), the authenticate+resolve use cases (warm and verifying every time), and
#     a blocked wrong-password login;
#   - jwtauth: token issue and verify per algorithm, and the verified-token cache;
#   - vecsearch: exact top-10 over 100k x 384 against a memory-read probe (target 3).
# BENCHTIME sets -benchtime for bootstrap and jwtauth (default 1s);
# VEC_BENCHTIME for vecsearch (default 40x, each iteration reads 154 MB).
# Extra arguments go to every `go test`, e.g. -count=3.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "commit $(git rev-parse --short HEAD), $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'), $(go version | cut -d' ' -f3), $(date -u +%FT%TZ)"
go test ./bootstrap -run '^$' -bench '^(BenchmarkRouter|BenchmarkAuthenticateResolve|BenchmarkLoginBlocked)$' -benchtime "${BENCHTIME:-1s}" "$@"
go test ./adapters/jwtauth -run '^$' -bench . -benchtime "${BENCHTIME:-1s}" "$@"
go test ./adapters/vecsearch -run '^$' -bench . -benchtime "${VEC_BENCHTIME:-40x}" "$@"
