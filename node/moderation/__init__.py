"""Reports from the public and their moderation: what a submission holds and how
it is sealed (:mod:`node.moderation.submissions`), and the node a moderator
works on, local or over HTTP (:mod:`node.moderation.client`).

May import the process modules at ``node``'s top; never :mod:`node.api`,
:mod:`node.web` or :mod:`node.cli`.
"""
