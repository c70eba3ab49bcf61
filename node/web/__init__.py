"""The HTML a person reads in a browser: the report form and its pages, their
templates, stylesheet and translations.

May import the process modules at ``node``'s top and :mod:`node.moderation`;
never :mod:`node.api`'s internals or :mod:`node.cli`.
"""
