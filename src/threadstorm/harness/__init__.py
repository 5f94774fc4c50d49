"""The harness: runs inside the target interpreter, standard library only.

It probes the target, executes scenarios in forked children of a warm fork server, confines
them, and reports over a dedicated pipe.  Nothing here may import outside the standard library
and ``threadstorm.scenario``; ``tests/unit/test_harness_zone.py`` checks it.
"""
