"""Render budgets hold before memory is spent (issue 17).

The data-driven reproductions (one hostile template each) are in tests/cases/invalid/render-*;
these are the invariants:

* any template, however hostile, costs at most :data:`MAX_RENDER_MEMORY` plus :data:`MARGIN`
  of Python allocations (tracemalloc's peak, not timing);
* the size estimates the guards refuse by are never below the real size by more than a small
  constant factor (:data:`FACTOR`), whatever the input.

A guard that fails must not take the machine down with it: the property test runs under an
address-space limit (:func:`_address_space_cap`), so a miss ends in a MemoryError and a failed
assertion, not in the kernel's OOM killer.
"""

from __future__ import annotations

import contextlib
import math
import resource
import tracemalloc
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from orchestrator.errors import RenderError
from orchestrator.render import RenderBudget, Renderer, Source
from orchestrator.render_budget import MAX_RENDER_MEMORY, format_field_size, printed_size, printf_size

#: What one render may allocate beyond MAX_RENDER_MEMORY: the operation running when memory is
#: next read (each is sized before it runs: at most about 10 MiB), what is allocated between two
#: reads of the resident memory (1 ms), and the difference between resident memory, which the
#: budget reads, and Python's allocations, which tracemalloc counts (memory the process freed
#: earlier can be reused without the resident size growing). Over about 1,000 generated
#: templates the highest peak was 75 MiB.
MARGIN = 32 * 1024 * 1024
#: Estimates may be low by at most this factor (repr escapes, HTML escaping of format fields).
FACTOR = 3

#: Sizes drawn for widths, counts and repetitions: ordinary ones, ones just under and over the
#: per-operation limit, and the reproductions' (3e8, 3e9).
SIZES = st.sampled_from(
    [0, 1, 3, 80, 4096, 65536, 300_000, 1_000_000, 1_048_577, 3_000_000, 300_000_000, 3_000_000_000]
)
LOOPS = st.sampled_from([0, 1, 3, 100, 1000, 100_000])

#: Expressions building a value; @N and @M are sizes.
LEAVES = [
    "'a' * @N",
    "'a\\n' * @N",
    "'ab ' * @N",
    "'\\u20ac' * @N",
    "[0] * @N",
    "['x' * @M] * @N",
    "range(@N)",
    "'%*d' % (@N, 1)",
    "'%.*f' % (@N, 1.5)",
    "'%@Ns' % 'a'",
    "('%@Nd' * 8) % (1, 2, 3, 4, 5, 6, 7, 8)",
    "'{0:{1}}'.format('a', @N)",
    "'{0:>{w}.{p}}'.format('a', w=@N, p=@M)",
    "'{:,}'.format(10 ** 1200)",
    "lipsum(n=@N)",
    "lipsum(1, min=@M, max=@N)",
    "'x'.ljust(@N)",
    "'x'.center(@N, '-')",
]
#: Expressions using one or two others (<X>, <Y>) and a size.
WRAPPERS = [
    "<X> ~ <Y>",
    "<X> * @N",
    "<X> + <Y>",
    "'%s' % (<X>,)",
    "'%s%s' % (<X>, <Y>)",
    "'{}{}'.format(<X>, <Y>)",
    "'{!r}'.format(<X>)",
    "<X> | indent(@N)",
    "<X> | indent(<Y>)",
    "<X> | center(@N)",
    "<X> | wordwrap(@N)",
    "<X> | wordwrap(@N, wrapstring=<Y>)",
    "<X> | truncate(@N)",
    "<X> | replace('a', <Y>)",
    "<X> | replace('a', 'bc', @N)",
    "<X> | join(<Y>)",
    "<X> | map('upper') | join",
    "<X> | string",
    "<X> | tojson(indent=@N)",
    "<X> | pprint",
    "<X> | list",
    "<X> | batch(@N) | list",
    "<X> | slice(@N) | list",
    "<X> | urlize(target=<Y>)",
    "<X> | e",
    "<X> | format(<Y>)",
    "[<X>] * @N",
    "[<X>, <Y>]",
    "(<X>)[1:]",
]
#: Statements using one expression (<E>) or statements (<S>).
STATEMENTS = [
    "{{ <E> }}",
    "{% set v = <E> %}",
    "{% set _ = ns.l.append(<E>) %}",
    "{% set ns.l = ns.l + [<E>] %}",
]
BLOCKS = [
    "{% for i in range(@L) %}<S>{% endfor %}",
    "{% set b %}<S>{% endset %}{% set _ = ns.l.append(b) %}",
    "{% macro m() %}<S>{% endmacro %}{% set _ = ns.l.append(m()) %}",
    "{% filter upper %}<S>{% endfilter %}",
]


def _fill(template: str, **parts: object) -> str:
    for name, value in parts.items():
        template = template.replace(f"<{name}>", f"({value})" if name in "XYE" else str(value))
    return template


LEAF = st.builds(
    lambda t, n, m: t.replace("@N", str(n)).replace("@M", str(m)), st.sampled_from(LEAVES), SIZES, SIZES
)
EXPRESSION = st.recursive(
    LEAF,
    lambda inner: st.builds(
        lambda t, x, y, n: _fill(t, X=x, Y=y).replace("@N", str(n)), st.sampled_from(WRAPPERS), inner, inner, SIZES
    ),
    max_leaves=4,
)
STATEMENT = st.recursive(
    st.builds(lambda t, e: _fill(t, E=e), st.sampled_from(STATEMENTS), EXPRESSION),
    lambda inner: st.builds(
        lambda t, body, n: t.replace("<S>", "".join(body)).replace("@L", str(n)),
        st.sampled_from(BLOCKS),
        st.lists(inner, min_size=1, max_size=3),
        LOOPS,
    ),
    max_leaves=4,
)
TEMPLATE = st.lists(STATEMENT, min_size=1, max_size=3).map(lambda s: "{% set ns = namespace(l=[]) %}" + "".join(s))


def _virtual_size() -> int:
    with open("/proc/self/statm", "rb") as fh:
        return int(fh.read().split()[0]) * resource.getpagesize()


#: Address space a render may add before it fails with MemoryError (only a missed guard gets there).
_CAP = 2 * 1024**3


@contextlib.contextmanager
def _address_space_cap(extra: int = _CAP) -> Iterator[None]:
    """At most ``extra`` more bytes of address space while inside (then the old limit again)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    cap = _virtual_size() + extra
    if hard != resource.RLIM_INFINITY:
        cap = min(cap, hard)
    resource.setrlimit(resource.RLIMIT_AS, (cap, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


def _peak_while_rendering(renderer: Renderer, source: str) -> tuple[int, str]:
    """Python's allocation peak during one render of ``source`` (text part), and how it ended."""
    tracemalloc.start()
    try:
        try:
            with _address_space_cap():
                renderer.render(Source("text", inline=source), {}, RenderBudget(seconds=2))
            outcome = "rendered"
        except RenderError as exc:
            outcome = str(exc)
        return tracemalloc.get_traced_memory()[1], outcome
    finally:
        tracemalloc.stop()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(TEMPLATE)
# the reproductions, and the two ways many small operations add up
@example("{{ '%*d' % (3000000000, 1) }}")
@example("{{ '{0:{1}}'.format('a', 3e8) }}")
@example("{{ ('a\\n' * 1000) | indent(1000000) }}")
@example("{% set s = 'x' * 1000000 %}{% set b %}{% for i in range(300) %}{{ s }}{% endfor %}{% endset %}")
@example(
    "{% set s = 'x' * 1000000 %}{% set ns = namespace(l=[]) %}"
    "{% for i in range(300) %}{% set _ = ns.l.append(s[i:]) %}{% endfor %}"
)
def test_no_template_costs_more_than_the_memory_budget(source: str) -> None:
    peak, outcome = _peak_while_rendering(Renderer(Path(".")), source)
    assert "ran out of memory" not in outcome, f"over {_CAP // 2**30} GiB for {source!r}"
    assert peak <= MAX_RENDER_MEMORY + MARGIN, f"{peak / 2**20:.0f} MiB ({outcome[:200]}) for {source!r}"


def test_the_reproductions_are_refused_cheaply() -> None:
    """The issue's templates, each refused before it allocates more than a few MiB."""
    renderer = Renderer(Path("."))
    for source in (
        "{{ '%*d' % (3000000000, 1) }}",
        "{{ lipsum(n=300000) }}",
        "{{ '{0:{1}}'.format('a', 3e8) }}",
        "{{ ('a\\n' * 1000) | indent(1000000) }}",
    ):
        peak, outcome = _peak_while_rendering(renderer, source)
        assert "over the rendering budget" in outcome, (source, outcome)
        assert peak < 4 * 2**20, (source, peak)


# -- the estimates are sound -------------------------------------------------------------------

SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**400), max_value=10**400),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=40),
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=6),
        st.lists(inner, max_size=6).map(tuple),
        st.dictionaries(st.text(max_size=8), inner, max_size=6),
    ),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(VALUES)
def test_printed_size_is_never_far_below_the_printed_text(value: Any) -> None:
    estimate = printed_size(value, limit=10**9)
    assert FACTOR * estimate >= len(str(value))
    assert FACTOR * printed_size(value, limit=10**9, quoted=True) >= len(repr(value))


CONVERSIONS = st.tuples(
    st.sampled_from(["", "-", "0", "#", "+", " ", "-#"]),
    st.one_of(st.just(""), st.integers(0, 300).map(str), st.just("*")),
    st.one_of(st.just(""), st.integers(0, 300).map(lambda p: f".{p}"), st.just(".*"), st.just(".")),
    st.sampled_from(list("diouxXeEfFgGcrsa")),
)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.tuples(st.text(alphabet="ab %", max_size=4), CONVERSIONS, VALUES), min_size=1, max_size=4),
    st.integers(0, 300),
)
def test_printf_size_is_never_far_below_the_formatted_text(pieces: list[Any], star: int) -> None:
    template = ""
    args: list[Any] = []
    for literal, (flags, width, precision, kind), value in pieces:
        template += literal.replace("%", "%%") + f"%{flags}{width}{precision}{kind}"
        args += [star] * (width == "*") + [star] * (precision == ".*")
        args.append(65 if kind == "c" else value)
    try:
        actual = template % tuple(args)
    except (TypeError, ValueError, OverflowError):
        return  # Python refuses it too; nothing was built
    assert FACTOR * printf_size(template, tuple(args), limit=10**12) >= len(actual)


SPECS = st.builds(
    lambda fill, align, sign, alt, zero, width, group, precision, kind: (
        f"{fill if align else ''}{align}{sign}{alt}{zero}{width}{group}{precision}{kind}"
    ),
    st.sampled_from(["", "*", "x"]),
    st.sampled_from(["", "<", ">", "^", "="]),
    st.sampled_from(["", "+", "-", " "]),
    st.sampled_from(["", "#"]),
    st.sampled_from(["", "0"]),
    st.one_of(st.just(""), st.integers(0, 400).map(str)),
    st.sampled_from(["", ",", "_"]),
    st.one_of(st.just(""), st.integers(0, 400).map(lambda p: f".{p}")),
    st.sampled_from(["", "s", "d", "b", "o", "x", "X", "n", "e", "E", "f", "F", "g", "G", "%", "c"]),
)


@settings(max_examples=400, deadline=None)
@given(st.one_of(SCALARS, st.integers(-(10**300), 10**300)), SPECS)
def test_format_field_size_is_never_far_below_the_formatted_field(value: Any, spec: str) -> None:
    try:
        actual = format(value, spec)
    except (TypeError, ValueError, OverflowError):
        return
    assert FACTOR * format_field_size(value, spec) >= len(actual), (value, spec)


def test_estimates_of_the_reproductions() -> None:
    assert printf_size("%*d", (3_000_000_000, 1), limit=10**12) >= 3_000_000_000
    assert printf_size("%.*f", (300_000_000, 1.0), limit=10**12) >= 300_000_000
    assert format_field_size("a", "300000000.0") >= 300_000_000
    assert printed_size([["x" * 1000] * 1000] * 1000) > 10**6  # stops counting past the limit
    assert math.isclose(printed_size(["x" * 100] * 10), 10 * 104 + 2, rel_tol=0.01)
