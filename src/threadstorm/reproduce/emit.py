"""Render a scenario as a standalone, standard-library-only Python script: the one place
threadstorm writes Python source.

The script does what the harness does, in the same order: shared objects built from their
recipes (fresh ones again every round, by the barrier's action), every thread's operations bound
once per round, threads released together by a ``threading.Barrier``, exceptions swallowed.
Timing is written out only where the scenario has some: a ``START`` table (wait for another
thread to begin, then spin), a ``SPAWN`` set (a short-lived thread per call), and operations
whose arguments are built anew for every call written as ``lambda: f(*[...])`` (a new list of
arguments at every call, as the harness builds them).  It
repeats the storm until the process crashes or the time limit passes, and then exits 0 saying so.
Makers (``big_union`` and friends) are copied from the harness's own source, stripped of
annotations and docstrings, so script and harness cannot drift apart.
"""

from __future__ import annotations

import ast
import inspect
import itertools
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from threadstorm.harness import values
from threadstorm.scenario.model import (
    BytesLit,
    Call,
    Collection,
    Lit,
    Make,
    Operation,
    Recipe,
    Ref,
    Scenario,
    Shared,
    SharedObject,
    hostile_targets,
    shared_references,
    through_type,
)
from threadstorm.store.records import BucketRecord
from threadstorm.triage.outcome import Status

STATE = "s"
MAX_LINE = 99
PARTIAL = "functools.partial"
# Makers and the helpers (plus imports) each needs, in definition order.
MAKER_SOURCES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "big_union": (("member_types", "big_union"), ("functools", "operator", "typing")),
    "generic_alias": (("member_types", "generic_alias"), ("typing",)),
    "nested_list": (("nested_list",), ()),
    "hostile": (("_HOSTILE_RESULTS", "hostile"), ()),
    "kept_referent": (("Referent", "CallableReferent", "_KEPT", "kept_referent"), ()),
}


@dataclass(frozen=True)
class Header:
    """What the script's docstring says about where it came from."""

    title: str = "threadstorm reproducer"
    target: str = ""
    signature: str = ""
    rate: str = ""
    python: str = "python3"
    race: bool = False  # a sanitizer finding: the script is run under ThreadSanitizer

    @classmethod
    def for_bucket(cls, bucket: BucketRecord, target: str, python: str, rate: str) -> Header:
        """The docstring facts of a bucket's reproducer."""
        return cls(
            title=f"threadstorm reproducer for bucket {bucket.key} ({bucket.status.label})",
            target=target,
            signature=bucket.signature.title,
            rate=rate,
            python=python,
            race=bucket.status is Status.SANITIZER,
        )


@dataclass
class _Renderer:
    inlined: dict[str, Recipe] = field(default_factory=dict)  # shared objects written in place
    imports: set[str] = field(default_factory=set)
    helpers: list[str] = field(default_factory=list)

    def recipe(self, recipe: Recipe) -> str:
        if isinstance(recipe, Lit):
            return repr(recipe.value)
        if isinstance(recipe, BytesLit):
            return repr(recipe.value)
        if isinstance(recipe, Ref):
            return self.reference(recipe.path)
        if isinstance(recipe, Shared):
            if recipe.name in self.inlined:
                return self.recipe(self.inlined[recipe.name])
            return f"{STATE}.{recipe.name}"
        if isinstance(recipe, Collection):
            return self.collection(recipe)
        if isinstance(recipe, Call):
            parts = [self.recipe(arg) for arg in recipe.args]
            parts += [f"{key}={self.recipe(value)}" for key, value in recipe.kwargs]
            return f"{self.recipe(recipe.func)}({', '.join(parts)})"
        return self.make(recipe)

    def collection(self, recipe: Collection) -> str:
        items = [self.recipe(item) for item in recipe.items]
        if recipe.kind == "dict":
            pairs = ", ".join(f"{k}: {v}" for k, v in zip(items[::2], items[1::2], strict=False))
            return "{" + pairs + "}"
        if len(items) > 3 and len(set(items)) == 1:
            inner = f"[{items[0]} for _ in range({len(items)})]"
        else:
            inner = "[" + ", ".join(items) + "]"
        if recipe.kind == "list":
            return inner
        return f"{recipe.kind}({inner})"

    def reference(self, path: str) -> str:
        module, _, name = path.rpartition(".")
        if module == "builtins":
            return name
        self.imports.add(_module_part(path))
        return path

    def make(self, recipe: Make) -> str:
        helpers, imports = MAKER_SOURCES.get(recipe.maker, ((), ()))
        self.imports.update(imports)
        for helper in helpers:
            self._helper(helper)
        if recipe.maker == "hostile":
            dunder, action, target = (recipe.param(k) for k in ("dunder", "action", "target"))
            return f"hostile({dunder!r}, {action!r}, {target!r}, vars({STATE}))"
        if recipe.maker == "big_int":
            return f"7 ** {max(1, int(int(recipe.param('digits', 100) or 1) * 1.183))}"
        if recipe.maker == "big_str":
            return f"'threadstorm-' * {max(1, int(recipe.param('length', 1000) or 1) // 12)}"
        if recipe.maker == "fresh_class":
            return f"type({str(recipe.param('name', 'Fresh'))!r}, (), {{}})"
        args = ", ".join(str(value) for _, value in recipe.params)
        return f"{recipe.maker}({args})"

    def operation(self, op: Operation) -> str:
        target = f"{STATE}.{op.target}"
        args = [self.recipe(arg) for arg in op.args]
        if op.fresh:  # arguments built anew at every call
            return f"lambda: {self.call_expression(op, target, args)}"
        if op.kind == "method" and through_type(op.name):
            return f"{PARTIAL}(type({target}).{op.name}, {', '.join([target, *args])})"
        if op.kind == "method":
            return f"{PARTIAL}({_attribute(target, op.name)}{''.join(', ' + a for a in args)})"
        if op.kind == "function":
            func = self.reference(op.name)
            return f"{PARTIAL}({func}, {', '.join([target, *args])})"
        if op.kind == "getattr":
            return f"{PARTIAL}(getattr, {target}, {op.name!r})"
        if op.kind == "setattr":
            return f"{PARTIAL}(setattr, {target}, {op.name!r}, {args[0]})"
        return f"{PARTIAL}(delattr, {target}, {op.name!r})"

    def call_expression(self, op: Operation, target: str, args: list[str]) -> str:
        """The operation as one call expression, arguments evaluated where it runs.

        The arguments are passed as ``*[...]``, a list built at every call, as the harness
        builds them (``execute._fresh_call``): a use-after-free shows only when something
        reuses the freed memory, and that allocation is often what does (an OrderedDict
        ``pop(1, 1)`` racing ``__ior__`` crashed 3 of 3 scripts so, 0 of 3 with plain
        ``pop(1, 1)``, which allocates nothing).
        """
        fresh = [f"*[{', '.join(args)}]"] if args else []
        if op.kind == "method" and through_type(op.name):
            return f"type({target}).{op.name}({', '.join([target, *fresh])})"
        if op.kind == "method":
            return f"{_attribute(target, op.name)}({', '.join(fresh)})"
        if op.kind == "function":
            return f"{self.reference(op.name)}({', '.join([target, *fresh])})"
        if op.kind == "setattr":
            return f"setattr({target}, {op.name!r}, {fresh[0]})"
        return f"{op.kind}({target}, {op.name!r})"

    def _helper(self, name: str) -> None:
        starts = (f"def {name}(", f"class {name}(", f"{name} =")
        if any(block.startswith(starts) for block in self.helpers):
            return
        if name.isupper():  # a module-level value of the harness, e.g. ``_HOSTILE_RESULTS``
            self.helpers.append(_assignment_source(name))
            return
        self.helpers.append(_plain_source(getattr(values, name)))


def _module_part(path: str) -> str:
    """The module to import for a dotted path: the prefix up to the last lowercase component."""
    parts = path.split(".")[:-1]
    while len(parts) > 1 and not parts[-1].islower():
        parts.pop()
    return ".".join(parts) or path


def _attribute(target: str, name: str) -> str:
    return f"{target}.{name}" if name.isidentifier() else f"getattr({target}, {name!r})"


def _plain_source(function: object) -> str:
    """A harness function's source without annotations or docstring."""
    tree = ast.parse(textwrap.dedent(inspect.getsource(function)))  # type: ignore[arg-type]
    node = tree.body[0]
    for inner in ast.walk(node):
        if isinstance(inner, ast.FunctionDef):
            _strip_function(inner)
        elif isinstance(inner, ast.AnnAssign):
            inner.annotation = ast.Name("object")
    return ast.unparse(node)


def _assignment_source(name: str) -> str:
    """The statement of the harness's values module that assigns ``name``, as written there
    (its initial value, not what it holds now), without its annotation."""
    for node in ast.parse(inspect.getsource(values)).body:
        if isinstance(node, ast.AnnAssign) and ast.unparse(node.target) == name and node.value:
            return f"{name} = {ast.unparse(node.value)}"
        if isinstance(node, ast.Assign) and [ast.unparse(t) for t in node.targets] == [name]:
            return ast.unparse(node)
    raise LookupError(f"no assignment of {name} in {values.__name__}")


def _strip_function(node: ast.FunctionDef) -> None:
    node.returns = None
    for arg in (*node.args.args, *node.args.kwonlyargs, node.args.vararg, node.args.kwarg):
        if arg is not None:
            arg.annotation = None
    first = node.body[0] if node.body else None
    if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) and len(node.body) > 1:
        node.body = node.body[1:]


def render(
    scenario: Scenario,
    header: Header,
    time_limit: float = 60.0,
    paths: Sequence[str] = (),
) -> str:
    """The complete reproducer script for ``scenario``.

    ``paths`` are the campaign's ``--path`` folders: the script puts them on ``sys.path``
    first, or a script storming an extension built outside the target (the usual case) fails
    at its import and crashes nothing.
    """
    inlined = _single_use(scenario)
    renderer = _Renderer({name: obj.recipe for name, obj in inlined.items()})
    kept = [obj for obj in scenario.shared if obj.name not in inlined]
    fixed = {obj.name: renderer.recipe(obj.recipe) for obj in kept if not obj.fresh}
    rebuild = [
        f"    {STATE}.{obj.name} = {renderer.recipe(obj.recipe)}" for obj in kept if obj.fresh
    ]
    timing = Timing.of(scenario)
    if timing.starts:
        rebuild.append(f"    {STATE}.begun = [threading.Event() for _ in PLANS]")
    plans = [
        f"lambda {STATE}: [{', '.join(renderer.operation(op) for op in plan.operations)}]"
        for plan in scenario.threads
    ]
    made = _made(fixed)
    for module in scenario.imports:
        if module != "builtins" and any(module in line for line in [*made, *rebuild, *plans]):
            renderer.imports.add(module)
    lines = [_docstring(scenario, header, time_limit)]
    if paths:
        folders = [str(Path(path).absolute()) for path in paths]
        lines += ["import sys", f"sys.path[:0] = {folders!r}  # the campaign's --path folders"]
    modules = sorted(
        {"faulthandler", "functools", "threading", "time", "types", *renderer.imports}
        - {"builtins"}
    )
    lines += [f"import {', '.join(modules)}", ""]
    lines += [block + "\n" for block in renderer.helpers]
    if rebuild:
        what = "fresh objects and start signals" if timing.starts else "fresh objects"
        lines += [f"def rebuild({STATE}):  # {what}, every round", *rebuild, ""]
    lines += [*_plans_table(plans), ""]
    lines += timing.table()
    lines += _skeleton(scenario, made, bool(rebuild), time_limit, timing)
    return "\n".join(lines) + "\n"


def _made(fixed: dict[str, str]) -> list[str]:
    """The loop lines that make a run's namespace with its fixed objects: one line when they
    need no other shared object and it is short enough, else one line per object, in order."""
    values = ", ".join(f"{name}={text}" for name, text in fixed.items())
    line = f"    {STATE} = types.SimpleNamespace({values})"
    if len(line) <= MAX_LINE and not any(map(_uses_namespace, fixed.values())):
        return [line]
    one_by_one = [f"    {STATE}.{name} = {text}" for name, text in fixed.items()]
    return [f"    {STATE} = types.SimpleNamespace()", *one_by_one]


def _uses_namespace(text: str) -> bool:
    """Whether a recipe's text reads the run's namespace (another object, or a hostile value's
    ``vars(s)``), so that it can be built only once the namespace exists."""
    return f"{STATE}." in text or f"vars({STATE})" in text


def _single_use(scenario: Scenario) -> dict[str, SharedObject]:
    """Shared objects the script writes inside the one recipe that uses them, not by name.

    An object qualifies when no operation touches it, exactly one other recipe mentions it,
    once, and that recipe is rebuilt as often (both fixed, or both fresh): written in place it is
    still one object, built at the same moment.  A hostile value's target is reached by name, so
    it keeps its name.
    """
    mentions: dict[str, list[SharedObject]] = {}
    for obj in scenario.shared:
        for name in shared_references(obj.recipe):
            mentions.setdefault(name, []).append(obj)
    arguments = [arg for op in scenario.operations() for arg in op.args]
    touched = {op.target for op in scenario.operations()}
    touched.update(name for arg in arguments for name in shared_references(arg))
    for recipe in (*arguments, *(obj.recipe for obj in scenario.shared)):
        touched.update(hostile_targets(recipe))
    return {
        obj.name: obj
        for obj in scenario.shared
        if obj.name not in touched
        and len(users := mentions.get(obj.name, [])) == 1
        and users[0].fresh == obj.fresh
    }


def _plans_table(plans: list[str]) -> list[str]:
    """``PLANS``: one entry per thread; a run of identical threads is written once, repeated."""
    entries: list[str] = []
    comments: list[str] = []
    number = 0
    for text, run in itertools.groupby(plans):
        count = len(list(run))
        entries.append(f"*[{text}] * {count}" if count > 1 else text)
        last = number + count - 1
        comments.append(f"  # threads {number}-{last}" if count > 1 else "")
        number += count
    alike = len(set(plans)) == 1 and len(plans) > 1  # every thread runs the same plan
    one_line = (
        f"PLANS = [{plans[0]}] * {len(plans)}" if alike else f"PLANS = [{', '.join(entries)}]"
    )
    if len(one_line) <= MAX_LINE:
        return ["# one list of operations per thread, bound each round", one_line]
    return [
        "PLANS = [  # one list of operations per thread, bound each round",
        *(f"    {entry},{comment}" for entry, comment in zip(entries, comments, strict=True)),
        "]",
    ]


@dataclass(frozen=True)
class Timing:
    """The scenario's timing as the script writes it: own starts and spawning threads."""

    starts: dict[int, tuple[int | None, int]]
    spawns: tuple[int, ...]

    @classmethod
    def of(cls, scenario: Scenario) -> Timing:
        return cls(
            starts={
                number: (plan.start.after, plan.start.delay_us)
                for number, plan in enumerate(scenario.threads)
                if not plan.start.at_barrier
            },
            spawns=tuple(n for n, plan in enumerate(scenario.threads) if plan.spawn),
        )

    @property
    def numbered(self) -> bool:
        """Whether the worker needs its thread number (to look up its start or spawning)."""
        return bool(self.starts or self.spawns)

    def table(self) -> list[str]:
        lines = []
        if self.starts:
            lines.append(f"START = {self.starts!r}  # thread: (thread it waits for, then us)")
        if self.spawns:
            lines.append(f"SPAWN = {set(self.spawns)!r}  # threads that start a thread per call")
            lines.append("threading.excepthook = lambda args: None  # calls raise, quietly")
        return [*lines, ""] if lines else []

    def start_lines(self) -> list[str]:
        if not self.starts:
            return []
        return [
            "        after, delay_us = START.get(n, (None, 0))",
            f"        if after is not None: {STATE}.begun[after].wait(2)",
            "        end = time.perf_counter_ns() + delay_us * 1000",
            "        while time.perf_counter_ns() < end: pass",
            f"        {STATE}.begun[n].set()",
        ]

    def call_lines(self) -> list[str]:
        plain = ["            try: call()", "            except Exception: pass"]
        if not self.spawns:
            return plain
        return [
            "            if n in SPAWN:",
            "                t = threading.Thread(target=call); t.start(); t.join()",
            "                continue",
            *plain,
        ]


def _docstring(scenario: Scenario, header: Header, time_limit: float) -> str:
    facts = [
        f"Target:    {header.target}" if header.target else "",
        f"Signature: {header.signature}" if header.signature else "",
        f"Observed:  {header.rate}" if header.rate else "",
    ]
    body = "\n".join(line for line in facts if line)
    return (
        f'"""{header.title}\n\n'
        f"{scenario.thread_count} threads, {_release(scenario)}, {scenario.rounds} round(s) of "
        f"{scenario.iterations} iteration(s); family {scenario.family}.\n"
        + (f"{body}\n\n" if body else "\n")
        + (_race_run(header, time_limit) if header.race else _crash_run(header, time_limit))
        + '"""'
    )


def _crash_run(header: Header, time_limit: float) -> str:
    return (
        f"Run:  PYTHON_GIL=0 {header.python} -X faulthandler THIS_SCRIPT\n"
        f"A crash kills the process (SIGSEGV, or SIGABRT on a failed assertion); if none happens\n"
        f"within {time_limit:.0f} s the script prints so and exits 0.\n"
    )


def _race_run(header: Header, time_limit: float) -> str:
    return (
        f"Run:  TSAN_OPTIONS=halt_on_error=1 PYTHON_GIL=0 {header.python} -X faulthandler "
        "THIS_SCRIPT\n"
        "(add suppressions=Tools/tsan/suppressions_free_threading.txt of the CPython tree to\n"
        "TSAN_OPTIONS to mute the races CPython knows).  ThreadSanitizer reports the race and\n"
        "ends the process with exit status 66; if it reports nothing within "
        f"{time_limit:.0f} s the\nscript prints so and exits 0.\n"
    )


def _release(scenario: Scenario) -> str:
    """How the threads start, in words, for the script's docstring."""
    if any(not plan.start.at_barrier for plan in scenario.threads):
        return "released by a barrier, some later (START)"
    return "released together"


def _skeleton(
    scenario: Scenario,
    made: list[str],
    has_rebuild: bool,
    time_limit: float,
    timing: Timing,
) -> list[str]:
    action = f", action=lambda: rebuild({STATE})" if has_rebuild else ""
    # bound before the thread's own start, so that what follows its wait is only calls
    bind = [f"        calls = plan({STATE})", *timing.start_lines()] if timing.starts else []
    calls = "calls" if bind else f"plan({STATE})"
    number, plans = ("n, ", "enumerate(PLANS)") if timing.numbered else ("", "PLANS")
    return [
        f"def worker({number}plan, s, barrier):",
        f"    for _ in range({scenario.rounds}):  # rounds",
        "        barrier.wait()",
        *bind,
        f"        for call in {calls} * {scenario.iterations}:  # iterations",
        *timing.call_lines(),
        "",
        "faulthandler.enable(all_threads=True)",
        f"deadline = time.monotonic() + {time_limit:g}",
        "while time.monotonic() < deadline:",
        *made,
        f"    barrier = threading.Barrier(len(PLANS){action})",
        f"    threads = [threading.Thread(target=worker, args=({number}p, {STATE}, barrier))"
        f" for {number}p in {plans}]",
        "    for t in threads: t.start()",
        "    for t in threads: t.join()",
        f'print("no crash within {time_limit:g} s")',
    ]


def code_lines(script: str) -> int:
    """Lines of code: not blank, not comments, not the docstring."""
    tree = ast.parse(script)
    doc_lines: set[int] = set()
    first = tree.body[0] if tree.body else None
    if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
        doc_lines = set(range(first.lineno, (first.end_lineno or first.lineno) + 1))
    count = 0
    for number, line in enumerate(script.splitlines(), start=1):
        stripped = line.strip()
        if stripped and not stripped.startswith("#") and number not in doc_lines:
            count += 1
    return count
