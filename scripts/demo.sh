#!/bin/sh
# make demo: the reference's scenario on one machine.
#   kubesim (a Kubernetes API simulator, HTTPS, a node labelled
#   cplane.dev/pool=subtask-topology-aware) ← the worker (TLS, a
#   service-account-style token; every call checked with TokenReview +
#   SubjectAccessReview, which kubesim answers) ← the driver (its own token,
#   for audience cplane, which kubesim knows and RBAC grants; creates "demo"
#   with 30 replicas, waits, deletes it, waits).
set -eu
cd "$(dirname "$0")/.."
BIN=${BIN:-build/cplane}
PY=/usr/bin/python3
POOL=cplane.dev/pool=subtask-topology-aware
dir=$(mktemp -d)
sim_pid= worker_pid=

cleanup() {
	[ -n "$worker_pid" ] && kill -TERM "$worker_pid" 2>/dev/null && wait "$worker_pid" 2>/dev/null || true
	[ -n "$sim_pid" ] && kill -TERM "$sim_pid" 2>/dev/null && wait "$sim_pid" 2>/dev/null || true
	rm -rf "$dir"
}
trap cleanup EXIT INT TERM

# The simulator prints one JSON line when it is ready.
$PY tests/e2e/kubesim.py --listen 127.0.0.1:0 --state-dir "$dir/sim" --node "$POOL" >"$dir/sim.out" 2>"$dir/sim.log" &
sim_pid=$!
i=0
until [ -s "$dir/sim.out" ]; do
	i=$((i + 1))
	if [ $i -gt 300 ] || ! kill -0 "$sim_pid" 2>/dev/null; then
		echo "demo: kubesim did not start:" >&2; cat "$dir/sim.log" >&2; exit 1
	fi
	sleep 0.1
done
field() { $PY -c "import json,sys; print(json.loads(open(sys.argv[1]).readline())[sys.argv[2]])" "$dir/sim.out" "$1"; }
url=$(field url)
sa=$(field sa_dir)
client_token=$(field client_token_file)

# A free port for the worker's gRPC listener.
port=$($PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')

"$BIN" --listen "127.0.0.1:$port" --apiserver "$url" --token-file "$sa/token" --ca-file "$sa/ca.crt" \
	--namespace "$(cat "$sa/namespace")" --node-selector "$POOL" 2>"$dir/worker.log" &
worker_pid=$!

# The driver waits for the worker itself (start-up retry), then runs the scenario.
status=0
"$BIN" --driver --target "127.0.0.1:$port" --token-file "$client_token" --timeout 2m || status=$?
if [ "$status" != 0 ]; then
	echo "demo: the driver failed (exit $status); the worker said:" >&2
	tail -n 20 "$dir/worker.log" >&2
fi
exit "$status"
