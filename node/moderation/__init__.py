"""Reports from the public and their moderation: what a submission holds, how it
is sealed and how its receipt is checked (:mod:`node.moderation.submissions`),
the moderation service that carries out moderators' decisions on it
(:mod:`node.moderation.service`), what a report's clear fields become in a
published record (:mod:`node.moderation.mapping`), and retention, which
deletes private parts once their period has ended
(:mod:`node.moderation.retention`).

The moderator's side of the terminal (the node a moderator works on, local or
over HTTP, and building record bodies from opened submissions) is in
:mod:`node.cli.submissions`, which imports this package, never the other way.

May import the process modules at ``node``'s top; never :mod:`node.api`,
:mod:`node.web` or :mod:`node.cli`.
"""
