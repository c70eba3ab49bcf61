#!/usr/bin/env bash
# One-shot set-up of a small banscan network's data directories: the "init"
# service of deploy/compose.yaml runs it before any node starts, and it runs
# just as well on a plain machine (tests/test_deploy.py runs it on temporary
# directories).
#
# For every node listed in $NODES it
#   1. creates the node (`banscan init`) unless its directory already holds
#      one; every node but the steward trusts the steward's key (--steward);
#   2. sets the [node] name, city, country and urls in its banscan.toml, which
#      the node publishes in its `node` record so peers can find it;
#   3. admits it on the steward (`banscan members admit`) with its role;
#   4. wires peers: the steward peers with every node and every node with the
#      steward (`banscan peers add`); the nodes find each other from there
#      through the `node` records.
# When it ran as root (the compose service, to write into fresh volumes) it
# hands every data directory to $NODE_UID (the image's uid 10001), and last it
# leaves a marker in the steward's directory: later runs see it and do nothing.
#
# Settings (environment; not BANSCAN_*, which banscan itself would refuse):
#   NODES       one line per node, fields separated by "|", steward first:
#                 dir|role|peer_url|public_url|name|city|country
#               dir: its directory under NODES_ROOT; role: steward, chapter or
#               coordinator; peer_url: where the other nodes of this set-up
#               reach it; public_url: what it publishes in [node] urls (empty:
#               peer_url); name, city, country (ISO code or empty): its
#               description. Blank lines and lines starting with # are skipped.
#   NODES_ROOT  directory holding the data directories (default /nodes)
#   NETWORK_ID  network id for new nodes (default banscan-demo)
#   NODE_UID    owner (uid[:gid]) the directories are given to when run as
#               root (default 10001:10001; empty: leave them to root)
set -euo pipefail

NODES_ROOT=${NODES_ROOT:-/nodes}
NETWORK_ID=${NETWORK_ID:-banscan-demo}
NODE_UID=${NODE_UID-10001:10001}
NODES=${NODES:?"set NODES to one line per node: dir|role|peer_url|public_url|name|city|country"}
MARKER=.compose-init-done

log() { printf 'compose-init: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 2; }

dirs=() roles=() peer_urls=() public_urls=() names=() cities=() countries=()
while IFS='|' read -r dir role peer_url public_url name city country extra; do
    [[ -z "${dir//[[:space:]]/}" || "$dir" == \#* ]] && continue
    [[ -z "${extra-}" ]] || die "node $dir: more than 7 fields"
    [[ "$dir" =~ ^[a-z0-9][a-z0-9._-]*$ ]] || die "node directory name '$dir' is not [a-z0-9._-]"
    case "$role" in
        steward | chapter | coordinator) ;;
        *) die "node $dir: role must be steward, chapter or coordinator, not '$role'" ;;
    esac
    [[ "$peer_url" =~ ^https?:// ]] || die "node $dir: peer_url must be an http(s) URL"
    [[ -z "$public_url" || "$public_url" =~ ^https?:// ]] ||
        die "node $dir: public_url must be an http(s) URL or empty"
    dirs+=("$dir") roles+=("$role") peer_urls+=("$peer_url")
    public_urls+=("${public_url:-$peer_url}") names+=("$name") cities+=("$city")
    countries+=("$country")
done <<<"$NODES"

((${#dirs[@]} > 0)) || die "NODES lists no node"
[[ "${roles[0]}" == steward ]] || die "the first node in NODES must be the steward"
for role in "${roles[@]:1}"; do
    [[ "$role" != steward ]] || die "only one steward: the first node"
done

steward_dir="$NODES_ROOT/${dirs[0]}"
if [[ -e "$steward_dir/$MARKER" ]]; then
    log "already set up ($steward_dir/$MARKER exists); nothing to do"
    exit 0
fi

# A node's public key, from `banscan status --json`.
node_key() {
    banscan status --json --data-dir "$1" |
        python3 -c 'import json, sys; print(json.load(sys.stdin)["key"])'
}

# Sets [node] name, city, country and urls in a banscan.toml, quoting the
# values as TOML strings (JSON string escapes are valid TOML basic strings).
set_node_description() {
    python3 - "$@" <<'PY'
import json
import re
import sys
import tomllib
from pathlib import Path

path, name, city, country, url = sys.argv[1:]
wanted = {
    "name": json.dumps(name),
    "city": json.dumps(city),
    "country": json.dumps(country),
    "urls": json.dumps([url]),
}
lines = Path(path).read_text(encoding="utf-8").splitlines(keepends=True)
section, found = None, set()
for i, line in enumerate(lines):
    header = re.match(r"\s*\[([^\]]*)\]\s*$", line)
    if header:
        section = header.group(1).strip()
        continue
    key = re.match(r"\s*([A-Za-z_]+)\s*=", line)
    if section == "node" and key and key.group(1) in wanted:
        lines[i] = f"{key.group(1)} = {wanted[key.group(1)]}\n"
        found.add(key.group(1))
for name_ in wanted.keys() - found:  # a config written without the key: add it under [node]
    start = next(i for i, line in enumerate(lines) if re.match(r"\s*\[node\]\s*$", line))
    lines.insert(start + 1, f"{name_} = {wanted[name_]}\n")
text = "".join(lines)
node = tomllib.loads(text)["node"]
assert node["urls"] == [url] and node["name"] == name, "banscan.toml was not updated"
Path(path).write_text(text, encoding="utf-8")
PY
}

keys=()
for i in "${!dirs[@]}"; do
    data_dir="$NODES_ROOT/${dirs[i]}"
    if [[ -e "$data_dir/node.key" ]]; then
        log "${dirs[i]}: node exists, keeping its key"
    elif ((i == 0)); then
        banscan init --data-dir "$data_dir" --network "$NETWORK_ID" >&2
    else
        banscan init --data-dir "$data_dir" --network "$NETWORK_ID" --steward "${keys[0]}" >&2
    fi
    keys+=("$(node_key "$data_dir")")
    set_node_description "$data_dir/banscan.toml" "${names[i]}" "${cities[i]}" \
        "${countries[i]}" "${public_urls[i]}"
    log "${dirs[i]}: ${roles[i]} ${keys[i]} at ${public_urls[i]}"
done

for i in "${!dirs[@]}"; do
    ((i > 0)) || continue
    admit=(banscan members admit "${keys[i]}" --data-dir "$steward_dir" --role "${roles[i]}"
        --name "${names[i]:-${dirs[i]}}")
    [[ -z "${cities[i]}" ]] || admit+=(--city "${cities[i]}")
    [[ -z "${countries[i]}" ]] || admit+=(--country "${countries[i]}")
    "${admit[@]}" >&2
    banscan peers add --data-dir "$steward_dir" "${peer_urls[i]}" "${keys[i]}" >&2
    banscan peers add --data-dir "$NODES_ROOT/${dirs[i]}" "${peer_urls[0]}" "${keys[0]}" >&2
done

touch "$steward_dir/$MARKER"
if [[ "$(id -u)" == 0 && -n "$NODE_UID" ]]; then
    for dir in "${dirs[@]}"; do
        chown -R "$NODE_UID" "$NODES_ROOT/$dir"
    done
fi
log "set up ${#dirs[@]} nodes on network $NETWORK_ID"
