"""Federation between nodes: how a node exchanges records with its peers.

Specified in ``docs/protocol.md`` Part II (sections 14 to 23). May import
``storage`` and ``protocol``, never ``node``: it knows nothing of the
human-facing API. Modules as of now:

- ``httpsig``: RFC 9421 request and answer signatures, and their errors;
- ``sync``: sync sessions over any transport, both the asking and the
  answering side;
- ``transport``: sync over HTTP, signed requests out and signed answers checked;
- ``gossip``: scheduling sync: eager push, anti-entropy rounds, backoff;
- ``verifier``: checking records' signatures on a thread pool before they are stored.
"""
