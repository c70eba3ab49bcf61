"""Records written out: CSV, GeoJSON, NDJSON and signed bundles
(:mod:`node.exports.formats`, with the columns CSV and GeoJSON share in
:mod:`node.exports.columns`), and bundles on disk, imported and verified
offline (:mod:`node.exports.bundles`).

May import the process modules at ``node``'s top; never :mod:`node.api`,
:mod:`node.web` or :mod:`node.cli`.
"""
