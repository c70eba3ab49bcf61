"""Federation between nodes: how a node exchanges records with its peers.

Specified in ``docs/protocol.md`` Part II (sections 14 to 23). May import
``storage`` and ``protocol``, never ``node``: it knows nothing of the
human-facing API; the node hands it what it needs of its configuration
(``settings``) and serves its routes. Modules as of now:

- ``runtime``: :class:`~federation.runtime.Federation`, the owner that starts
  a node's federation and holds its parts;
- ``httpsig``: RFC 9421 request and answer signatures, and their errors;
- ``sync``: sync sessions over any transport, the asking side;
- ``service``: sync's answering side: what a node tells its peers;
- ``transport``: sync over HTTP, signed requests out and signed answers checked;
- ``gossip``: scheduling sync: eager push, anti-entropy rounds, backoff;
- ``announce``: this node's ``node`` record, published when it changes;
- ``discovery``: peers found in members' ``node`` records;
- ``own_feeds``: pushing this node's records, whichever process published them;
- ``verifier``: checking records' signatures on a thread pool before they are stored;
- ``settings``: what federation needs of the node's configuration;
- ``tasks``: the owner of a node's named background tasks, all stopped at shutdown.
"""
