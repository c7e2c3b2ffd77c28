"""VNN-LIB specifications (VNN-COMP): the per-input bounds on X_i read as a Box domain.

Output constraints (on Y_j) say what a verifier should prove and do not restrict the inputs, so
they are ignored with a note. Anything else that constrains the inputs beyond a box (disjunctions,
relations between variables) is refused: replacing it by a box would change the constant.
"""
from __future__ import annotations

import re
import warnings
from typing import List, Tuple, Union

import numpy as np

from ..domain import Box
from ..errors import InputError
from .textfile import read_text

_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")
_VARIABLE = re.compile(r"([XY])_(0|[1-9]\d*)")
_COMPARISONS = ("<=", ">=", "<", ">", "=")


class Atom(str):
    """A token with the line it came from."""

    line: int

    def __new__(cls, text: str, line: int) -> "Atom":
        atom = super().__new__(cls, text)
        atom.line = line
        return atom


class Form(list):
    """A parenthesised list with the line of its opening parenthesis."""

    def __init__(self, line: int):
        super().__init__()
        self.line = line


Expr = Union[Atom, Form]


def _parse(text: str, path: str) -> List[Form]:
    """The top-level forms of an S-expression text (';' comments skipped)."""
    stack: List[Form] = [Form(0)]
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.split(";", 1)[0]
        for token in re.findall(r"\(|\)|[^\s()]+", line):
            if token == "(":
                stack.append(Form(number))
            elif token == ")":
                if len(stack) == 1:
                    raise InputError(f"{path}: line {number}: unbalanced ')'")
                done = stack.pop()
                stack[-1].append(done)
            else:
                stack[-1].append(Atom(token, number))
    if len(stack) > 1:
        raise InputError(f"{path}: line {stack[-1].line}: '(' is never closed (file truncated?)")
    for item in stack[0]:
        if not isinstance(item, Form):
            raise InputError(f"{path}: line {item.line}: unexpected token {item!r} outside a command")
    return list(stack[0])


def _line(expr: Expr) -> int:
    return expr.line


def _number(expr: Expr):
    """The value of a numeral or of (- numeral); None otherwise."""
    if isinstance(expr, Atom):
        return float(expr) if _NUMBER.fullmatch(expr) else None
    if len(expr) == 2 and expr[0] == "-" and isinstance(expr[1], Atom) and _NUMBER.fullmatch(expr[1]):
        return -float(expr[1])
    return None


def _is_input(expr: Expr) -> bool:
    return isinstance(expr, Atom) and bool(_VARIABLE.fullmatch(expr)) and expr.startswith("X")


def _variables(expr: Expr) -> List[str]:
    if isinstance(expr, Atom):
        return [expr] if _VARIABLE.fullmatch(expr) else []
    return [v for item in expr for v in _variables(item)]


class _Spec:
    """Input bounds collected from the assertions, with the line of each bound and the notes."""

    def __init__(self, path: str, n_inputs: int):
        self.path = path
        self.n = n_inputs
        self.declared: dict = {}
        self.lo = np.full(n_inputs, -np.inf)
        self.hi = np.full(n_inputs, np.inf)
        self.lo_line = [0] * n_inputs
        self.hi_line = [0] * n_inputs
        self.ignored: List[int] = []
        self.strict: List[int] = []

    def error(self, line: int, message: str) -> InputError:
        return InputError(f"{self.path}: line {line}: {message}")

    def declare(self, form: Form) -> None:
        if len(form) != 3 or not all(isinstance(x, Atom) for x in form[1:]):
            raise self.error(form.line, "expected (declare-const NAME Real)")
        name, kind = form[1], form[2]
        if not _VARIABLE.fullmatch(name):
            raise self.error(form.line, f"variable {name!r} is not named X_i (input) or Y_j (output)")
        if kind != "Real":
            raise self.error(form.line, f"variable {name} has type {kind}, expected Real")
        if name in self.declared:
            raise self.error(form.line, f"variable {name} is declared twice (first on line {self.declared[name]})")
        index = int(name[2:])
        if name[0] == "X" and index >= self.n:
            raise self.error(form.line, f"input {name} is out of range: the network has {self.n} inputs")
        self.declared[name] = form.line

    def constrain(self, expr: Expr) -> None:
        names = _variables(expr)
        for name in names:
            if name not in self.declared:
                raise self.error(_line(expr), f"variable {name} is used but not declared")
        if names and all(name.startswith("Y") for name in names):
            self.ignored.append(_line(expr))
            return
        if isinstance(expr, Form) and expr and expr[0] == "and":
            for item in expr[1:]:
                self.constrain(item)
            return
        if isinstance(expr, Form) and len(expr) == 3 and expr[0] in _COMPARISONS:
            self.bound(expr)
            return
        head = expr[0] if isinstance(expr, Form) and expr else expr
        raise self.error(_line(expr), f"unsupported constraint on the inputs (starting with {head!r}); "
                                      "only per-input bounds like (<= X_0 0.5), possibly under 'and', give a box")

    def bound(self, expr: Form) -> None:
        op, left, right = expr
        if _is_input(left) and _number(right) is not None:
            name, value, flip = left, _number(right), False
        elif _is_input(right) and _number(left) is not None:
            name, value, flip = right, _number(left), True
        else:
            raise self.error(expr.line, "only bounds of one input by a number are supported, like (<= X_0 0.5)")
        if op in ("<", ">"):
            self.strict.append(expr.line)
        i = int(name[2:])
        upper = op.startswith("<") != flip
        if op == "=" or upper:
            if value < self.hi[i]:
                self.hi[i], self.hi_line[i] = value, expr.line
        if op == "=" or not upper:
            if value > self.lo[i]:
                self.lo[i], self.lo_line[i] = value, expr.line

    def box(self) -> Box:
        inputs = sorted(int(name[2:]) for name in self.declared if name.startswith("X"))
        if inputs != list(range(self.n)):
            missing = sorted(set(range(self.n)) - set(inputs))
            raise InputError(f"{self.path}: the network has {self.n} inputs but X_{missing[0]} is not declared")
        for i in range(self.n):
            for side, value in (("lower", self.lo[i]), ("upper", self.hi[i])):
                if not np.isfinite(value):
                    raise InputError(f"{self.path}: input X_{i} (declared on line {self.declared[f'X_{i}']}) "
                                     f"has no {side} bound; a box needs both")
            if self.lo[i] > self.hi[i]:
                raise InputError(f"{self.path}: input X_{i} has contradictory bounds: lower {float(self.lo[i])!r} "
                                 f"(line {self.lo_line[i]}) is above upper {float(self.hi[i])!r} (line {self.hi_line[i]})")
        return Box(self.lo.copy(), self.hi.copy()).resolve(self.n)

    def notes(self) -> List[str]:
        notes = []
        if self.ignored:
            notes.append(f"{self.path}: ignored {len(self.ignored)} output constraint(s) on Y "
                         f"(line(s) {', '.join(map(str, self.ignored))}): they do not restrict the inputs")
        if self.strict:
            notes.append(f"{self.path}: strict bounds on line(s) {', '.join(map(str, self.strict))} read as "
                         "non-strict (the Lipschitz constant over the closure is the same)")
        return notes


def read_vnnlib(path: str, n_inputs: int) -> Tuple[Box, List[str]]:
    """The input Box of a VNN-LIB file for a network with n_inputs inputs, and notes for the user."""
    text = read_text(path, "VNN-LIB", "utf-8")
    spec = _Spec(path, int(n_inputs))
    for form in _parse(text, path):
        head = form[0] if form else None
        if head == "declare-const":
            spec.declare(form)
        elif head == "assert" and len(form) == 2:
            spec.constrain(form[1])
        else:
            raise spec.error(form.line, f"unsupported command {head!r} (expected declare-const or assert)")
    return spec.box(), spec.notes()


def load_vnnlib(path: str, n_inputs: int) -> Box:
    """The input Box of a VNN-LIB file; notes (ignored output constraints) are issued as warnings."""
    box, notes = read_vnnlib(path, n_inputs)
    for note in notes:
        warnings.warn(note, stacklevel=2)
    return box
