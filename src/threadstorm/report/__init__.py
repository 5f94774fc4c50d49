"""Reports: extract once, then render.

``model.build_report(store)`` reads a campaign store into one plain ``Report``; each renderer is a
small module that only formats it: ``text`` (terminal, rich), ``markdown`` (campaign summary and
per-bucket bug reports), ``json`` (for machines), ``html`` (one self-contained file from
``templates/``, with the ``chart`` SVG), ``junit`` and ``sarif`` (for CI systems).  ``describe``
holds the words every renderer uses for scenarios, sizes and times.
"""
