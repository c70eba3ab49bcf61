"""OpenStreetMap interchange for deployments (docs/campaigning.md, docs/cli.md).

Cameras mapped in OpenStreetMap (``man_made=surveillance``, the tagging
DeFlock uses too) come in from an extract or an Overpass answer
(:mod:`node.osm.elements`), become deployment bodies with their tags and a
source naming the OSM object and its version (:mod:`node.osm.tags`), and are
published as this node's records, new ones and newer versions alike
(:mod:`node.osm.importer`). Deployments chapters found that OSM lacks go the
other way as an osmChange file or GeoJSON for a mapper to review and upload
with their own account (:mod:`node.osm.changes`): nothing here opens a network
connection.

Errors: :class:`~node.osm.elements.OsmInputError` (a file that cannot be read
as OSM data); the command line turns it into its message.

May import the process modules at ``node``'s top, :mod:`storage` and
:mod:`protocol`; never :mod:`node.api`, :mod:`node.web` or :mod:`node.cli`.
"""
