"""``banscan submissions``: reviewing reports from the public from a terminal.

The commands work in two modes, with the same commands and output:

- local, ``--data-dir DIR``: opens the node's database directly, as the other
  commands do; the audit log names ``cli:<os user>``;
- remote, ``--node URL`` with a moderator token: calls the moderators' HTTP API
  (:mod:`node.api.submissions`); the audit log names the token's label.

Both modes are a :class:`~node.cli.submissions.nodes.ModeratedNode`
(:mod:`.nodes`), which answers in the API's JSON shapes, so each command is
written once: reading in :mod:`.reading`, decisions in :mod:`.decisions`, the
parser in :mod:`.parser`. Private parts only ever leave the node sealed:
``show`` and ``publish`` open them here, with the moderator's key file, and a
published record is built (:mod:`.drafts`) from the coarse fields and what the
moderator writes (``--summary``), never from the narrative as it is.

Errors: :class:`~node.cli.common.CommandError` (exit 2) when a command cannot
run, :class:`~node.cli.common.CommandFailed` (exit 1) when the node refused a
decision.
"""

from node.cli.submissions.parser import register

__all__ = ["register"]
