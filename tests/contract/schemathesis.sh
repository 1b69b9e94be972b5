#!/usr/bin/env bash
# Property-based tests of the described API: schemathesis reads /openapi.json and sends
# generated requests, valid and invalid, to a server with a sample world, as the admin
# and as a user. It fails on any 5xx and on any answer the document does not describe
# (status, content type, headers, body shape).
#
#   tests/contract/schemathesis.sh [BIN] [EXAMPLES]
#
# Left out: `positive_data_acceptance`, which expects every schema-valid request to be
# accepted; some rules cannot be written in OpenAPI (lat and lon go together, a cursor
# belongs to its query, ids that do not exist), and those answers are listed 4xx.
set -euo pipefail
BIN=${1:-target/release/groupscout}
EXAMPLES=${2:-25}

python3 -c "import schemathesis" 2>/dev/null || python3 -m pip install -q schemathesis
DIR=$(mktemp -d /tmp/groupscout-st.XXXXXX)
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$BIN" serve --bind "127.0.0.1:$PORT" --db "$DIR/g.db" --index "$DIR/index" --sample 1000 >"$DIR/log" 2>&1 &
PID=$!
trap 'kill $PID 2>/dev/null || true; wait $PID 2>/dev/null || true; rm -rf "$DIR"' EXIT
for _ in $(seq 120); do
    curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null && break
    sleep 0.5
done
ADMIN=$("$BIN" token --admin --db "$DIR/g.db" --index "$DIR/index")
USER=$("$BIN" token --user 7 --db "$DIR/g.db" --index "$DIR/index")

status=0
for who in admin user anonymous; do
    case $who in
    admin) auth=(-H "Authorization: Bearer $ADMIN") ;;
    user) auth=(-H "Authorization: Bearer $USER") ;;
    anonymous) auth=() ;;
    esac
    echo "== schemathesis as $who"
    set +e
    # From the temporary folder: schemathesis keeps a cache in its working directory.
    (cd "$DIR" && python3 -m schemathesis.cli run "http://127.0.0.1:$PORT/openapi.json" "${auth[@]}" --checks all \
        --exclude-checks positive_data_acceptance --max-examples "$EXAMPLES" --seed 1 \
        --no-color) >"$DIR/st-$who.txt" 2>&1
    code=$?
    set -e
    grep -E "^  [0-9]+ generated|^  ❌|^=+ .* in " "$DIR/st-$who.txt" || true
    if [ $code -ne 0 ]; then
        status=1
        sed -n '/FAILURES\|ERRORS/,$p' "$DIR/st-$who.txt" | head -80
    fi
done
if grep -q "answered with a server error\|panicked" "$DIR/log"; then
    echo "the server log has errors:"
    grep "answered with a server error\|panicked" "$DIR/log" | head -20
    status=1
fi
exit $status
