"""Federation between nodes: peer authentication, sync sessions, gossip, discovery.

Built on ``storage`` and ``protocol``; knows nothing of the human-facing API.
Specified in DESIGN section 6; the implementation arrives with the
federation issue, and until then a node accepts signed records only through
``POST /api/v1/records/import`` and ``banscan import``.
"""
