"""The message ids the desk's templates build from a name, written out for babel to find.

The templates ask for ``desk.field.<name>``, ``desk.reason.<reason>`` and so
on; each is listed here once with ``N_`` so that ``pybabel extract`` puts it in
the catalogs, and :func:`built_ids` lets a test check the list is whole.
"""

from typing import Final

from node.web.i18n import N_

BUILT: Final = (
    N_("desk.field.occurred_on"),
    N_("desk.field.country"),
    N_("desk.field.city"),
    N_("desk.field.area"),
    N_("desk.field.category"),
    N_("desk.field.technology"),
    N_("desk.field.agency"),
    N_("desk.field.summary"),
    N_("desk.field.verification"),
    N_("desk.field.sources"),
    N_("desk.field.lat"),
    N_("desk.field.lon"),
    N_("desk.field.operator"),
    N_("desk.field.frt"),
    N_("desk.field.observed_on"),
    N_("desk.field.status"),
    N_("desk.field.kind"),
    N_("desk.field.received_on"),
    N_("desk.kind.incident"),
    N_("desk.kind.deployment"),
    N_("desk.reason.spam"),
    N_("desk.reason.duplicate"),
    N_("desk.reason.out_of_scope"),
    N_("desk.reason.insufficient"),
    N_("desk.reason.unsafe"),
    N_("desk.reason.other"),
    N_("desk.reason.error"),
    N_("desk.reason.safety"),
    N_("desk.reason.consent_withdrawn"),
    N_("desk.reason.legal"),
    N_("desk.audience.public"),
    N_("desk.audience.network"),
    N_("desk.audience.restricted"),
    N_("desk.private.place"),
    N_("desk.private.occurred_time"),
    N_("desk.private.lat"),
    N_("desk.private.lon"),
    N_("desk.private.names"),
    N_("desk.private.email"),
    N_("desk.private.signal"),
    N_("desk.private.phone"),
    N_("desk.outcome.done.publish"),
    N_("desk.outcome.done.reject"),
    N_("desk.outcome.done.ask"),
    N_("desk.outcome.done.duplicate"),
    N_("desk.outcome.done.retract"),
    N_("desk.outcome.done.release"),
    N_("desk.item.note"),
    N_("desk.item.question"),
    N_("desk.item.answer"),
    N_("desk.claim.taken"),
    N_("desk.publish.not_ready"),
    N_("desk.cannot_open"),
    N_("desk.bulk.none"),
    N_("desk.note.empty"),
)
