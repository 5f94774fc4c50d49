"""Every scenario family by name: the object families and the module-state family.

Kept apart from ``families`` so that ``module_state`` can build on the families' shapes and
timing without a circular import.
"""

from __future__ import annotations

from threadstorm.generate.families import FAMILIES as OBJECT_FAMILIES
from threadstorm.generate.families import Family
from threadstorm.generate.module_state import MODULE_STATE, module_state

FAMILIES: dict[str, Family] = {**OBJECT_FAMILIES, MODULE_STATE: module_state}
