"""The script library: lines as data (YAML metadata + a Jinja2 template), checked and rendered.

A line may use only the case variables it declares (checked with ``jinja2.meta``);
rendering uses a sandboxed environment with ``StrictUndefined``, so a missing value is a
clear error instead of a blank in front of a customer.
"""
from __future__ import annotations

import re
import time
from contextvars import ContextVar
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Mapping

from jinja2 import StrictUndefined, TemplateSyntaxError, UndefinedError, meta
from jinja2.exceptions import SecurityError
from jinja2.sandbox import SandboxedEnvironment

from assistant._yaml import read_yaml, schema_errors, schema_problems
from assistant.constants import CUE_CATEGORIES, STAGES
from assistant.errors import ScriptError, TemplateLimitError
from assistant.files import library_root

TONES: tuple[str, ...] = ("warm", "neutral", "firm")
LADDER: tuple[int, ...] = (3, 7, 15, 30)  # days overdue: the escalation ladder's rungs


def ladder_rung(days_overdue: int) -> int:
    """The rung of the overdue ladder a call is on (fewer than 3 days counts as the first)."""
    return max((r for r in LADDER if days_overdue >= r), default=LADDER[0])


# Case variables a line may declare, with a description and sample values for lint/render.
VARIABLES: dict[str, tuple[str, dict[str, Any]]] = {
    "customer_name": ("customer's full name", {"zh": "王芳", "en": "Maria Lopez"}),
    "customer_title": ("how to address the customer", {"zh": "王女士", "en": "Ms. Lopez"}),
    "institution": ("the lender / creditor", {"zh": "诚信消费金融", "en": "Crestview Finance"}),
    "agent_name": ("the agent's name", {"zh": "小李", "en": "Sam"}),
    "agent_id": ("the agent's staff number", {"zh": "A1024", "en": "A1024"}),
    "amount_due": ("amount overdue, with currency", {"zh": "4800元", "en": "$950"}),
    "days_overdue": ("days past due", {"zh": 7, "en": 7}),
    "due_date": ("the missed due date", {"zh": "11月15日", "en": "November 15"}),
    "repayment_channel": ("the official repayment channel", {"zh": "诚信金融官方App“还款”页面", "en": "the payments page of our official app"}),
    "hotline": ("the institution's official hotline", {"zh": "400-800-1234", "en": "1-800-555-0100"}),
    "installment_count": ("number of installments offered", {"zh": 6, "en": 6}),
    "installment_amount": ("amount of each installment", {"zh": "800元", "en": "$160"}),
    "deferral_days": ("days a payment can be deferred", {"zh": 30, "en": 30}),
    "promise_amount": ("amount the customer promised", {"zh": "800元", "en": "$160"}),
    "promise_date": ("date the customer promised", {"zh": "11月20日", "en": "Friday, November 20"}),
    "complaint_channel": ("the official complaint channel", {"zh": "客服热线400-800-1234转投诉", "en": "our complaints team at 1-800-555-0100"}),
    "crisis_line": ("a crisis / mental-health hotline", {"zh": "12356心理援助热线", "en": "988"}),
    "supervisor": ("who the call is handed to", {"zh": "值班主管", "en": "my supervisor"}),
}


@dataclass(frozen=True)
class ScriptLine:
    """One line of the library."""

    id: str
    lang: str
    stage: str
    cues: tuple[str, ...]
    tone: str
    overdue: tuple[int, ...]
    variables: tuple[str, ...]
    template: str
    note: str
    after_violation: tuple[str, ...] = ()
    source: str = ""
    when_said: tuple[str, ...] = ()  # regexes: offered for its cue only when the customer's words match one

    def suits(self, customer_text: str) -> bool:
        """Whether the line fits what the customer said (always, without ``when_said``)."""
        return not self.when_said or any(re.search(p, customer_text) for p in self.when_said)

    def fits(self, days_overdue: int | None) -> bool:
        """Whether the line suits a call this many days overdue (rung of the ladder)."""
        if days_overdue is None or not self.overdue:
            return True
        return ladder_rung(days_overdue) in self.overdue


MAX_OUTPUT = 4000  # characters a rendered line may have (a spoken line is a few hundred)
MAX_SECONDS = 0.25  # time a rendering may take (a live session renders every suggestion)
MAX_ITEMS = 1000  # items a loop's range() may yield
_DEADLINE: ContextVar[float] = ContextVar("script_render_deadline", default=float("inf"))


class _LimitedSandbox(SandboxedEnvironment):
    """Jinja2's sandbox with bounds: no operator may build a huge value, calls and loops stop
    at a deadline, ranges are short, and the output is cut off at :data:`MAX_OUTPUT`."""

    intercepted_binops = frozenset(["*", "**", "+"])

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        self._tick()
        if operator == "**":
            if isinstance(right, (int, float)) and abs(right) > 64:
                raise TemplateLimitError(f"exponent {right} is too large for a script line")
            return left ** right
        if operator == "*":
            sized = [v for v in (left, right) if isinstance(v, (str, list, tuple))]
            count = [v for v in (left, right) if isinstance(v, int)]
            if sized and count and len(sized[0]) * max(count[0], 0) > MAX_OUTPUT:
                raise TemplateLimitError(f"a value repeated {count[0]} times would exceed {MAX_OUTPUT} characters")
            return left * right
        result = left + right
        if isinstance(result, (str, list, tuple)) and len(result) > MAX_OUTPUT:
            raise TemplateLimitError(f"a value of more than {MAX_OUTPUT} characters")
        return result

    def call(__self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: N805 - Jinja2's signature
        __self._tick()
        return super().call(__context, __obj, *args, **kwargs)

    def getattr(self, obj: Any, attribute: str) -> Any:
        self._tick()
        return super().getattr(obj, attribute)

    @staticmethod
    def _tick() -> None:
        if time.monotonic() > _DEADLINE.get():
            raise TemplateLimitError(f"rendering took longer than {MAX_SECONDS} s")


@lru_cache(maxsize=1024)
def _compiled(source: str) -> Any:
    """A template compiled once per process (a live session renders lines again and again)."""
    return _ENV.from_string(source)


def _short_range(*args: int) -> range:
    items = range(*args)
    if len(items) > MAX_ITEMS:
        raise TemplateLimitError(f"range() of {len(items)} items: at most {MAX_ITEMS} in a script line")
    return items


_ENV = _LimitedSandbox(undefined=StrictUndefined, autoescape=False, trim_blocks=True, lstrip_blocks=True)
_ENV.globals["range"] = _short_range
# Filters that cannot build a value much larger than their input (no center, indent, format, wordwrap …).
_SAFE_FILTERS = ("abs", "capitalize", "d", "default", "e", "escape", "first", "float", "int", "join", "last", "length",
                 "list", "lower", "replace", "round", "string", "title", "trim", "truncate", "upper")
_ENV.filters = {name: _ENV.filters[name] for name in _SAFE_FILTERS}


_TEXT = {"type": "string", "pattern": r"\S"}


def script_file_schema(lang: str) -> dict[str, Any]:
    """The JSON Schema of a script file (``scripts_library/<lang>/*.yaml``)."""
    line = {
        "type": "object",
        "additionalProperties": False,
        "required": ["id", "stage", "tone", "template", "note"],
        "properties": {
            "id": {"type": "string", "pattern": rf"^{lang}\.[a-z0-9_]+(\.[a-z0-9_]+)+$"},
            "stage": {"enum": list(STAGES)},
            "tone": {"enum": list(TONES)},
            "cues": {"type": "array", "items": {"enum": list(CUE_CATEGORIES)}},
            "overdue": {"type": "array", "items": {"enum": list(LADDER)}},
            "variables": {"type": "array", "items": {"enum": list(VARIABLES)}},
            "after_violation": {"type": "array", "items": {"type": "string"}},
            "when_said": {"type": "array", "items": {"type": "string", "minLength": 1}},
            "template": _TEXT,
            "note": _TEXT,
        },
    }
    return {"type": "object", "additionalProperties": False, "required": ["lang", "lines"],
            "properties": {"lang": {"const": lang}, "lines": {"type": "array", "items": line}}}


def _template_problems(entry: dict[str, Any], where: str) -> list[str]:
    """What a schema cannot see: the template's syntax and the variables it really uses."""
    problems: list[str] = []
    declared = entry.get("variables") or []
    template = entry.get("template")
    if isinstance(template, str):
        try:
            used = meta.find_undeclared_variables(_ENV.parse(template))
        except TemplateSyntaxError as exc:
            problems.append(f"{where}: template syntax error: {exc.message}")
        else:
            for name in sorted(used - set(declared)):
                problems.append(f"{where}: template uses {{{{ {name} }}}} but does not declare it in `variables`")
            for name in sorted(set(declared) - used):
                problems.append(f"{where}: declares {name!r} but the template does not use it")
    return problems


def load_library(lang: str, root: Path | None = None) -> tuple[list[ScriptLine], list[str]]:
    """Every line of a language and every problem found (``file:line: message``)."""
    folder = (root or library_root()) / lang
    if not folder.is_dir():
        raise ScriptError(f"no script library for {lang!r} at {folder}")
    lines: list[ScriptLine] = []
    problems: list[str] = []
    seen: dict[str, str] = {}
    schema = script_file_schema(lang)
    for path in sorted(folder.glob("*.yaml")):
        data, loc, found = read_yaml(path)
        if loc is None:
            problems += found
            continue
        errors = schema_errors(data, schema)
        problems += schema_problems(path, data, schema, loc)
        if not (isinstance(data, dict) and isinstance(data.get("lines"), list)):
            continue
        bad_entries = {at[1] for at, _ in errors if len(at) >= 2 and at[0] == "lines"}
        for k, entry in enumerate(data["lines"]):
            where = f"{path}:{loc.line(['lines', k])}"
            if k in bad_entries:
                continue
            found = _template_problems(entry, where)
            problems += found
            if found:
                continue
            if entry["id"] in seen:
                problems.append(f"{where}: duplicate id {entry['id']!r} (also {seen[entry['id']]})")
                continue
            seen[entry["id"]] = where
            lines.append(ScriptLine(
                id=entry["id"], lang=lang, stage=entry["stage"], cues=tuple(entry.get("cues") or ()), tone=entry["tone"],
                overdue=tuple(entry.get("overdue") or ()), variables=tuple(entry.get("variables") or ()),
                template=entry["template"].strip(), note=entry["note"].strip(),
                after_violation=tuple(entry.get("after_violation") or ()), source=where, when_said=tuple(entry.get("when_said") or ()),
            ))
    return lines, problems


def sample_case(lang: str) -> dict[str, Any]:
    """Sample values for every variable (used by lint and by `render` without a case)."""
    return {name: samples[lang] for name, (_, samples) in VARIABLES.items()}


def render(line: ScriptLine, case: Mapping[str, Any]) -> str:
    """The line filled in with the case's values (only the declared ones are passed)."""
    missing = [v for v in line.variables if v not in case or case[v] in (None, "")]
    if missing:
        raise ScriptError(f"{line.id} needs {', '.join(missing)}: add {'it' if len(missing) == 1 else 'them'} to the case file")
    token = _DEADLINE.set(time.monotonic() + MAX_SECONDS)
    try:
        out: list[str] = []
        size = 0
        for piece in _compiled(line.template).generate({v: case[v] for v in line.variables}):
            size += len(piece)
            if size > MAX_OUTPUT:
                raise TemplateLimitError(f"the output exceeds {MAX_OUTPUT} characters")
            _LimitedSandbox._tick()
            out.append(piece)
        return "".join(out).strip()
    except TemplateLimitError as exc:
        raise ScriptError(f"{line.id} cannot be rendered: {exc.message}") from exc
    except (UndefinedError, SecurityError, TemplateSyntaxError, TypeError, ValueError, ArithmeticError, RecursionError, MemoryError) as exc:
        raise ScriptError(f"{line.id} cannot be rendered: {type(exc).__name__}: {exc}"[:300]) from exc
    finally:
        _DEADLINE.reset(token)
