"""Reports from the public and their moderation: what a submission holds and how
it is sealed (:mod:`node.moderation.submissions`), the node a moderator works on,
local or over HTTP (:mod:`node.moderation.client`), and retention, which deletes
private parts once their period has ended (:mod:`node.moderation.retention`).

May import the process modules at ``node``'s top; never :mod:`node.api`,
:mod:`node.web` or :mod:`node.cli`.
"""
