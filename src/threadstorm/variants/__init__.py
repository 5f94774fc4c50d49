"""Variant search: the same scenario shape on sibling types (``threadstorm variants``).

``siblings`` ranks related types and moves a scenario onto each (pure); ``search`` measures
every variant in the target and reports, per sibling, crashed or not, k of n and bucket.
"""
