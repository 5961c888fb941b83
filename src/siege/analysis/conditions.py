"""Conditions on a replication's outcomes, as ``siege discover --where`` takes them: parsed by
a small recursive-descent parser (never ``eval``) into a tree that is evaluated on outcome
columns.

Grammar (keywords in lower case; names are outcome columns, e.g. ``end_reason``,
``attacker_losses``, ``days_held``)::

    condition  := conjunct ("or" conjunct)*
    conjunct   := clause ("and" clause)*
    clause     := "not" clause | "(" condition ")" | comparison
    comparison := term ("in" | "not" "in") "[" word ("," word)* "]"
                | term ("<" | "<=" | ">" | ">=" | "==" | "!=") term
    term       := NAME [ "[" PATH "=" VALUE "]" ] | NUMBER | "string"

``end_reason in ["encircled"]``, ``attacker_losses < 40000``, ``end_day >= 200 and
end_reason == "withdrew"``. A term with a selector ``[PATH=VALUE]`` reads the column of the
sweep's point whose lever ``PATH`` has ``VALUE``, paired replication by replication with the
points that differ from it only in ``PATH`` (a *paired condition*, e.g.
``end_reason[policy.decision_latency_days=14] in ["encircled"] and
end_reason[policy.decision_latency_days=0] not in ["encircled"]``). A comparison with NaN
(e.g. ``withdrawal_start_day`` of a replication that did not withdraw) is false.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from siege.errors import DiscoverError

COMPARISONS = ("<=", ">=", "==", "!=", "<", ">")
_TOKEN = re.compile(r"""
    \s*(?:
      (?P<number>[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)(?![\w.])
    | (?P<string>"[^"]*"|'[^']*')
    | (?P<op><=|>=|==|!=|<|>|=|\[|\]|\(|\)|,)
    | (?P<name>[A-Za-z_][\w.]*)
    )""", re.VERBOSE)
_KEYWORDS = {"and", "or", "not", "in", "true", "false"}
MAX_LENGTH = 2000  # characters of a condition


@dataclass(frozen=True)
class Column:
    """An outcome column, of the point whose lever ``select[0]`` is ``select[1]`` (paired)
    or of the point being counted (``select`` None)."""

    name: str
    select: tuple[str, Any] | None = None


@dataclass(frozen=True)
class Literal:
    """A number or a string."""

    value: float | str


@dataclass(frozen=True)
class Compare:
    left: Column | Literal
    op: str
    right: Column | Literal


@dataclass(frozen=True)
class Member:
    """``column in [words]`` (``negate``: ``not in``)."""

    column: Column
    words: tuple[str, ...]
    negate: bool = False


@dataclass(frozen=True)
class Logic:
    """``and``, ``or`` of two or more parts, or ``not`` of one."""

    op: str
    parts: tuple[Node, ...]


Node = Compare | Member | Logic


@dataclass(frozen=True)
class Condition:
    """A parsed condition: its text, its tree, the columns it reads and, for a paired
    condition, the lever it pairs over and the values it names."""

    text: str
    tree: Node
    columns: tuple[Column, ...]

    @property
    def pair_path(self) -> str | None:
        paths = {c.select[0] for c in self.columns if c.select is not None}
        return next(iter(paths)) if paths else None

    @property
    def pair_values(self) -> tuple[Any, ...]:
        return tuple(dict.fromkeys(c.select[1] for c in self.columns if c.select is not None))


def _bad(text: str, position: int, problem: str) -> DiscoverError:
    """An error that shows the condition with a caret under the fault."""
    shown = text if len(text) <= 120 else text[:117] + "..."
    caret = " " * min(position, 120) + "^"
    return DiscoverError(f"where: {problem} (at character {position + 1})\n  {shown}\n  {caret}",
                         parameter="where")


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens: list[tuple[str, str, int]] = []
        pos = 0
        while pos < len(text):
            if text[pos:].strip() == "":
                break
            m = _TOKEN.match(text, pos)
            if m is None or m.end() == pos:
                start = len(text[:pos]) + len(text[pos:]) - len(text[pos:].lstrip())
                raise _bad(text, start, f"unexpected character {text[start]!r}")
            kind = m.lastgroup or ""
            self.tokens.append((kind, m.group(kind), m.start(kind)))
            pos = m.end()
        self.i = 0

    def peek(self) -> tuple[str, str, int]:
        return self.tokens[self.i] if self.i < len(self.tokens) else ("end", "", len(self.text))

    def take(self) -> tuple[str, str, int]:
        token = self.peek()
        self.i += 1
        return token

    def expect(self, value: str, what: str) -> None:
        kind, got, pos = self.take()
        if got != value or kind == "string":
            raise _bad(self.text, pos, f"expected {what}, found {_show(kind, got)}")

    def is_word(self, word: str) -> bool:
        kind, value, _ = self.peek()
        return kind == "name" and value == word

    def condition(self) -> Node:
        parts = [self.conjunct()]
        while self.is_word("or"):
            self.take()
            parts.append(self.conjunct())
        return parts[0] if len(parts) == 1 else Logic("or", tuple(parts))

    def conjunct(self) -> Node:
        parts = [self.clause()]
        while self.is_word("and"):
            self.take()
            parts.append(self.clause())
        return parts[0] if len(parts) == 1 else Logic("and", tuple(parts))

    def clause(self) -> Node:
        kind, value, _ = self.peek()
        if kind == "name" and value == "not":
            self.take()
            return Logic("not", (self.clause(),))
        if kind == "op" and value == "(":
            self.take()
            inner = self.condition()
            self.expect(")", "')'")
            return inner
        return self.comparison()

    def comparison(self) -> Node:
        left_pos = self.peek()[2]
        left = self.term()
        kind, value, pos = self.peek()
        negate = False
        if kind == "name" and value == "not":
            self.take()
            kind, value, pos = self.peek()
            if not (kind == "name" and value == "in"):
                raise _bad(self.text, pos, f"expected 'in' after 'not', found {_show(kind, value)}")
            negate = True
        if kind == "name" and value == "in":
            self.take()
            if not isinstance(left, Column):
                raise _bad(self.text, left_pos, "'in' needs a column on its left, e.g. "
                           "end_reason in [\"encircled\"]")
            return Member(left, self.words(), negate)
        if kind == "op" and value in COMPARISONS:
            self.take()
            right = self.term()
            if not isinstance(left, Column) and not isinstance(right, Column):
                raise _bad(self.text, left_pos, "a comparison needs at least one column")
            return Compare(left, value, right)
        raise _bad(self.text, pos, "expected a comparison (< <= > >= == !=), 'in' or "
                   f"'not in', found {_show(kind, value)}")

    def words(self) -> tuple[str, ...]:
        self.expect("[", "a list such as [\"encircled\", \"collapsed\"] after 'in'")
        words = []
        while True:
            kind, value, pos = self.take()
            if kind == "string":
                words.append(value[1:-1])
            elif kind == "name" and value not in _KEYWORDS:
                words.append(value)
            else:
                raise _bad(self.text, pos, f"expected a quoted name in the list, found "
                           f"{_show(kind, value)}")
            kind, value, pos = self.take()
            if value == "]" and kind == "op":
                return tuple(words)
            if value != "," or kind != "op":
                raise _bad(self.text, pos, f"expected ',' or ']' in the list, found "
                           f"{_show(kind, value)}")

    def term(self) -> Column | Literal:
        kind, value, pos = self.take()
        if kind == "number":
            return Literal(float(value))
        if kind == "string":
            return Literal(value[1:-1])
        if kind != "name" or value in _KEYWORDS:
            raise _bad(self.text, pos, f"expected an outcome column or a number, found "
                       f"{_show(kind, value)}")
        if self.peek()[:2] != ("op", "["):
            return Column(value)
        self.take()
        pkind, path, ppos = self.take()
        if pkind != "name" or path in _KEYWORDS:
            raise _bad(self.text, ppos, "expected a lever's path in [PATH=VALUE], found "
                       f"{_show(pkind, path)}")
        self.expect("=", "'=' in [PATH=VALUE]")
        vkind, raw, vpos = self.take()
        selected: Any
        if vkind == "number":
            selected = float(raw)
        elif vkind == "string":
            selected = raw[1:-1]
        elif vkind == "name" and raw in ("true", "false"):
            selected = raw == "true"
        elif vkind == "name" and raw not in _KEYWORDS:
            selected = raw
        else:
            raise _bad(self.text, vpos, f"expected a value in [PATH=VALUE], found "
                       f"{_show(vkind, raw)}")
        self.expect("]", "']' closing [PATH=VALUE]")
        return Column(value, (path, selected))


def _show(kind: str, value: str) -> str:
    return "the end of the condition" if kind == "end" else repr(value)


def _columns(node: Node) -> list[Column]:
    if isinstance(node, Member):
        return [node.column]
    if isinstance(node, Compare):
        return [t for t in (node.left, node.right) if isinstance(t, Column)]
    return [c for part in node.parts for c in _columns(part)]


def parse_condition(text: str) -> Condition:
    """Parse a condition (grammar in the module docstring); raise :class:`DiscoverError`
    showing where it fails. Mixing paired and unpaired columns, or pairing over two levers,
    is refused."""
    if not text.strip():
        raise DiscoverError("where: empty condition; e.g. 'end_reason in [\"encircled\"]'",
                            parameter="where")
    if len(text) > MAX_LENGTH:
        raise DiscoverError(f"where: {len(text)} characters; at most {MAX_LENGTH}",
                            parameter="where")
    parser = _Parser(text)
    tree = parser.condition()
    kind, value, pos = parser.peek()
    if kind != "end":
        raise _bad(text, pos, f"expected 'and', 'or' or the end, found {_show(kind, value)}")
    columns = tuple(dict.fromkeys(_columns(tree)))
    paths = sorted({c.select[0] for c in columns if c.select is not None})
    if len(paths) > 1:
        raise DiscoverError(f"where: a paired condition pairs points over one lever; this one "
                            f"names {', '.join(paths)}", parameter="where")
    if paths and any(c.select is None for c in columns):
        bare = next(c.name for c in columns if c.select is None)
        raise DiscoverError(f"where: in a paired condition every column names its point: "
                            f"write {bare}[{paths[0]}=VALUE]", parameter="where")
    return Condition(text, tree, columns)


def check_columns(condition: Condition, numeric: Mapping[str, str], reasons: tuple[str, ...]
                  ) -> None:
    """Refuse columns the outcome table does not have (``numeric``: name -> unit, plus
    ``end_reason``), ``in`` on a numeric column, comparisons of ``end_reason`` but ``==``/
    ``!=`` with a known end reason, and end reasons not in ``reasons``."""
    allowed = ", ".join(["end_reason", *numeric])

    def column(c: Column) -> None:
        if c.name != "end_reason" and c.name not in numeric:
            raise DiscoverError(f"where: no outcome column '{c.name}'; the columns are: "
                                f"{allowed}", parameter="where")

    def reason(word: str) -> None:
        if word not in reasons:
            raise DiscoverError(f"where: '{word}' is not an end reason; choose from "
                                f"{', '.join(reasons)}", parameter="where")

    def walk(node: Node) -> None:
        if isinstance(node, Logic):
            for part in node.parts:
                walk(part)
        elif isinstance(node, Member):
            column(node.column)
            if node.column.name != "end_reason":
                raise DiscoverError(f"where: '{node.column.name} in [...]' needs end_reason; "
                                    f"compare numbers with < <= > >= == !=", parameter="where")
            for word in node.words:
                reason(word)
        else:
            terms = (node.left, node.right)
            for t in terms:
                if isinstance(t, Column):
                    column(t)
            text = [t for t in terms if isinstance(t, Column) and t.name == "end_reason"]
            if text:
                other = terms[1] if terms[0] in text else terms[0]
                if node.op not in ("==", "!=") or not (
                        (isinstance(other, Literal) and isinstance(other.value, str))
                        or (isinstance(other, Column) and other.name == "end_reason")):
                    raise DiscoverError("where: end_reason compares with == or != to a quoted "
                                        "end reason (or with in [...])", parameter="where")
                if isinstance(other, Literal):
                    reason(str(other.value))
            elif any(isinstance(t, Literal) and isinstance(t.value, str) for t in terms):
                raise DiscoverError("where: a number column compares with a number, not a "
                                    "quoted word", parameter="where")

    walk(condition.tree)


Frame = Mapping[Column, NDArray[Any]]


def evaluate(node: Node, frame: Frame) -> NDArray[np.bool_]:
    """Whether each replication satisfies the condition, ``(n_reps,)``, from its columns
    ``frame`` (each ``(n_reps,)``: floats, or strings for ``end_reason``)."""
    if isinstance(node, Logic):
        values = [evaluate(p, frame) for p in node.parts]
        if node.op == "not":
            return ~values[0]
        out = values[0]
        for v in values[1:]:
            out = (out & v) if node.op == "and" else (out | v)
        return out
    if isinstance(node, Member):
        hit = np.isin(frame[node.column], np.array(node.words, dtype=object))
        return ~hit if node.negate else hit
    left, right = (frame[t] if isinstance(t, Column) else t.value
                   for t in (node.left, node.right))
    ops = {"<": np.less, "<=": np.less_equal, ">": np.greater, ">=": np.greater_equal,
           "==": np.equal, "!=": np.not_equal}
    with np.errstate(invalid="ignore"):
        result = np.asarray(ops[node.op](left, right), dtype=bool)
    if node.op == "!=":  # NaN != x is true in IEEE arithmetic; a missing value satisfies nothing
        for t in (left, right):
            if isinstance(t, np.ndarray) and t.dtype.kind == "f":
                result &= ~np.isnan(t)
            elif isinstance(t, float) and math.isnan(t):
                result[:] = False
    return result
