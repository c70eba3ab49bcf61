"""The filter options ``export``, ``query`` and ``stats`` share with the API.

They are parsed by :func:`node.params.parse_query_filter`, as the API's
query parameters are, so the command line and the API always agree.
"""

import argparse
import datetime

from node.auth import ALL_AUDIENCES
from node.campaignparams import CAMPAIGN_KINDS, parse_campaign_filter
from node.cli.common import CommandError
from node.params import parse_query_filter
from node.problems import BadParameter
from storage.filters import QueryFilter

# (option, query parameter, help) for each filter.
FILTER_OPTIONS = (
    ("--country", "country", "ISO 3166-1 alpha-2 codes, comma-separated"),
    ("--region", "region", "regions, comma-separated"),
    ("--city", "city", "cities, comma-separated"),
    ("--origin", "origin", "chapter keys (ed25519:...), comma-separated"),
    ("--category", "category", "incident categories, comma-separated"),
    ("--technology", "technology", "technology types, comma-separated"),
    ("--agency", "agency", "agency names (any case), comma-separated"),
    ("--status", "status", "verification or deployment statuses, comma-separated"),
    ("--occurred-from", "occurred_from", "occurred_on on or after YYYY-MM-DD"),
    ("--occurred-to", "occurred_to", "occurred_on on or before YYYY-MM-DD"),
    ("--created-from", "created_from", "created at or after: milliseconds or RFC 3339"),
    ("--created-to", "created_to", "created at or before: milliseconds or RFC 3339"),
    ("--area", "area", "incidents: a geohash prefix of 1 to 6 characters"),
    ("--bbox", "bbox", "deployments: min_lon,min_lat,max_lon,max_lat in degrees"),
    (
        "--frt",
        "frt",
        "deployments: FRT capability (confirmed, suspected, unknown), comma-separated",
    ),
    ("--text", "q", "incidents: words that must all occur in the summary"),
)


def add_filter_options(sub: argparse.ArgumentParser) -> None:
    for option, parameter, help_text in FILTER_OPTIONS:
        sub.add_argument(option, dest=f"filter_{parameter}", metavar="VALUE", help=help_text)


def filtered(args: argparse.Namespace) -> bool:
    """Whether any filter option was given."""
    return any(getattr(args, f"filter_{p}") is not None for _, p, _ in FILTER_OPTIONS)


def query_filter(
    args: argparse.Namespace, kind: str | None = None, audiences: tuple[str, ...] = ALL_AUDIENCES
) -> QueryFilter:
    """The filter the options ask for, parsed exactly as the API parses its parameters.

    The operator reads their own database, so every audience by default."""
    options = {parameter: option for option, parameter, _ in FILTER_OPTIONS}
    mapping = {
        parameter: value
        for parameter in options
        if (value := getattr(args, f"filter_{parameter}")) is not None
    }
    listing = CAMPAIGN_KINDS.get(kind or args.kind)
    try:
        if listing is not None:
            today = datetime.datetime.now(datetime.UTC).date()
            return parse_campaign_filter(mapping, listing, audiences, today)
        return parse_query_filter(mapping, kind or args.kind, audiences)
    except BadParameter as exc:
        name = exc.extensions["parameter"]
        detail = exc.detail.removeprefix(f"{name}: ")
        raise CommandError(f"{options.get(name, '--' + name)}: {detail}") from exc
