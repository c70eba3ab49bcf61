"""The documented ``banscan.toml`` that ``banscan init`` writes: every section of
:mod:`node.config` with its defaults and a comment saying what each key does."""

from node.config import DEFAULT_PORT


def config_template(network_id: str, stewards: list[str]) -> str:
    """The documented ``banscan.toml`` that ``banscan init`` writes."""
    steward_list = ", ".join(f'"{key}"' for key in stewards)
    return f"""\
# banscan node configuration. Every key can be overridden by an environment
# variable BANSCAN_<SECTION>_<KEY>, e.g. BANSCAN_NODE_PORT=9000.
# Reference: docs/configuration.md

[node]
# Address and port the HTTP server listens on. Port 0 picks a free port.
host = "127.0.0.1"
port = {DEFAULT_PORT}
# Threads that verify signatures on ingest; 0 means one per core (at most 4).
verify_threads = 0
# How this node describes itself to the network in its public "node" record,
# and the URLs where peers reach it (behind the TLS proxy, e.g.
# ["https://nyc.example.org"]). A node without urls still syncs with the
# peers it knows, but other nodes cannot find it.
name = ""
city = ""
country = ""
urls = []

[network]
# The network id is bound into every signature: records and requests from one
# network are never valid in another.
id = "{network_id}"
# Keys of the network's stewards (roots of trust). With none, this node is its
# own steward.
stewards = [{steward_list}]

[limits]
# Checked before any expensive work.
max_envelope_bytes = 512
max_body_bytes = 65536
max_batch_records = 500
max_batch_bytes = 4194304

[federation]
# Peers a newly published record is pushed to at once.
fanout = 3
# Seconds between anti-entropy sync sessions with a peer chosen at random.
sync_interval_s = 30
# Seconds a peer has to answer one federation request.
timeout_s = 30
# Federation requests served at once; beyond it peers get 429 and Retry-After.
max_sessions = 8
# Longest wait before retrying a failing peer (backoff doubles, with jitter).
max_backoff_s = 600
# Space for records whose origin is not (yet) a member; oldest dropped first.
quarantine_max_bytes = 67108864

# Peers to sync with from the start; one is enough to find the rest. Repeat
# the table for each peer:
# [[peers]]
# url = "https://steward.example.org"
# key = "ed25519:..."

[submissions]
# Days the private part of a published or rejected report is kept.
retention_days = 90
# Reports one client may send in an hour, and all clients together (receipt checks
# counted apart); a client is a daily keyed hash of its address, never stored.
per_client_per_hour = 10
per_hour = 600
# Behind a TLS proxy, take the client's address from the last X-Forwarded-For
# entry (the one the proxy appended). Only set this when a proxy is in front.
trust_forwarded_for = false
# The largest report accepted, in bytes.
max_bytes = 65536

[moderation]
# Minutes a moderator's claim on a report lasts after its last claim or renewal.
claim_minutes = 30
# The audience a report of an incident goes to when the moderator does not choose one:
# network (the member nodes), public (everyone, on the public site) or coordinators.
# The desk preselects it and warns when it is not public; deployments default to public.
incident_audience = "network"

[http]
# Limits on slow clients: seconds for a request's line and headers to arrive
# (from its first byte), for its body to arrive whole, and for a connection to
# sit idle; past one the node answers 408 and closes the connection.
header_timeout_s = 10
body_timeout_s = 60
idle_timeout_s = 75
# Connections one client may hold at once; more get 429. Not applied when
# trust_forwarded_for is set: behind a proxy, the proxy's limits apply.
max_connections_per_client = 128

[storage]
# "full" syncs every commit to disk (safe against power loss); "normal" is
# faster and safe against crashes of the process.
synchronous = "full"

[reads]
# Anonymous GETs served at once; more wait in a queue of anonymous_queue, and
# beyond it get 503 with Retry-After, so readers never starve writes or sync.
anonymous_concurrency = 4
anonymous_queue = 512
# Seconds anonymous answers may be cached (Cache-Control max-age).
max_age_s = 1
# Encoded anonymous answers kept in memory.
cache_entries = 1024

[site]
# The public site (docs/site.md). Name and city default to [node]'s.
name = ""
city = ""
# An e-mail address or URL where visitors reach the chapter.
contact = ""
# The map shows an area's incident count only when it holds at least this
# many incidents; smaller areas merge into larger ones, so no single report
# can be located from the map.
min_incidents_per_cell = 3
# Seconds the map's tiles may lag behind new writes (and be cached): a new or
# retracted camera shows on the map at most this long after it was written.
# Longer lets a busy map serve many more visitors while records arrive.
map_max_age_s = 10
# "outlines" (country outlines shipped with banscan) or "pmtiles:FILE" for a
# PMTiles extract placed in the data directory's basemap/ folder.
basemap = "outlines"
# Sites allowed to show the map in a frame, e.g. ["https://partner.example"].
embed_origins = []
# Texts per language, on the home page and the privacy page, e.g.
# about = {{ en = "We document police use of facial recognition.", es = "..." }}
about = {{}}
privacy = {{}}
# Campaign actions linked from the home page, e.g.
# actions = [{{ title = "Sign the petition", url = "https://campaign.example/petition" }}]
actions = []

[log]
level = "info"
# "auto": pretty on a terminal, JSON lines otherwise.
format = "auto"
"""
