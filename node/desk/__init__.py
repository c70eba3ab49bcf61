"""The moderators' desk: ``banscan desk``, a web UI on the moderator's own machine.

The desk holds the moderator's private key in memory, pulls sealed reports
from a node over its API (:mod:`node.desk.nodeapi`), opens them here, and
sends the node only what the moderator decides: a redacted record, a reason,
a note already sealed to every moderator key. The node never serves a line of
the desk's code, so it cannot serve code that touches a key or a report in
clear (docs/threat-model.md, "The moderators' desk").

What it holds: ``guard`` (the local UI's defences: secret, session cookie,
Host check, CSRF, CSP), ``nodeapi`` (the node's moderation API), ``drafts``
(a record body from a report, and what of the reporter's words it still
holds), ``likeness`` (text similarity for duplicates), ``pages`` and
``decisions`` (the routes), ``app`` and ``serve`` (the aiohttp application on
127.0.0.1), ``templates/`` and ``static/`` (its own, served by the desk).

What it may import: ``protocol`` (sealing), ``node.moderation`` (key files,
what a sighting's fields become), ``node.web``'s catalogs and templating
helpers. Never ``node.api`` nor ``node.cli``; and nothing in the node's
server imports it.
"""
