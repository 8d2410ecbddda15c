#!/usr/bin/env bash
# Runs the whole test suite: unit, fuzz (briefly) and end-to-end tests with
# real SIPp and baresip peers, on SQLite and, when ENTVOICE_TEST_PG_DSN is
# set, on PostgreSQL too.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v go >/dev/null 2>&1 || export PATH=/usr/local/go/bin:$PATH

echo "== go vet"
go vet ./...
echo "== go test -race"
go test -race -count=1 -timeout 20m ./...
# The speech engine's tests (real pocketsphinx on espeak-ng phrases) need
# its build tag; without the library only the tag-less half above runs.
if pkg-config --exists pocketsphinx sphinxbase 2>/dev/null; then
  echo "== speech engine (-tags pocketsphinx)"
  go vet -tags pocketsphinx ./internal/speech/... ./internal/node ./internal/e2e ./cmd/entvoice
  go test -race -count=1 -timeout 10m -tags pocketsphinx ./internal/speech/...
  # Speech in real calls (SpeechBackground, AGI SPEECH, SayText, the demo's
  # speech IVR) against a node running the engine.
  go test -race -count=1 -timeout 10m -tags pocketsphinx -run 'Speech|SayText|SayNumberGerman' ./internal/e2e
else
  echo "== speech engine skipped: libpocketsphinx-dev not installed (scripts/setup.sh installs it)"
fi
echo "== fuzz (5 s each; FUZZTIME=30s for longer)"
fuzz() {
  local out
  if ! out=$(go test -run '^$' -fuzz "^$2\$" -fuzztime "${FUZZTIME:-5s}" "$1" 2>&1); then
    echo "$out"
    echo "fuzz $1 $2 FAILED"
    return 1
  fi
  echo "fuzz $1 $2 ok"
}
fuzz ./internal/dialplan FuzzParse
fuzz ./internal/dialplan FuzzSubstitute
fuzz ./internal/dialplan FuzzExpr
fuzz ./internal/dialplan FuzzMatch
fuzz ./internal/media FuzzParseSDP
fuzz ./internal/media FuzzReadWAV
fuzz ./internal/sipauth FuzzParseDigest
fuzz ./internal/registrar FuzzHandle
fuzz ./internal/sipua FuzzEdgeDatagram
fuzz ./internal/prompts FuzzSayNumber
fuzz ./internal/prompts FuzzSayAlpha
fuzz ./internal/speech/jsgf FuzzParse
fuzz ./internal/agi FuzzParseArgs
fuzz ./internal/ami FuzzReadMessage
echo "== all tests passed"
