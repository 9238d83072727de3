"""The `math` verifier: Math-Verify's own answer extraction and `verify`, gold first, under a hard limit.

The verdict is `verify(parse(gold), parse(text))` as Math-Verify's README writes it, on
the text after the last `</think>` (its last `_MAX_CHARS` characters), with one change:
the prediction's plain-text expressions are never parsed. `parse` reads LaTeX
(Minerva's "Final Answer: The final answer is $X$. I hope it is correct.", then "final
answer is ..." and every `\\boxed{}` — several boxes joined into a set — then
"answer: ...", then the last LaTeX expression) and plain text (numbers, and expressions
like `2/3` that it hands to sympy's `parse_expr`, which calls `eval`). Here plain-text
numbers are built from their digits and plain-text expressions count as unparsable;
model text is never evaluated outside the sandbox. docs/grade.md lists what that loses.

Two stages, both in worker processes killed at the hard wall-clock limit:

1. extract: Math-Verify's own regexes and normalisation walked in its order (priority
   groups; in a group, the rightmost match first; the first match that parses wins),
   returning a key — (kind, normalised string, percent) for each expression of the
   winning match, and the first string seen, which Math-Verify appends to the
   prediction — from which the parsed answer follows exactly. Texts go in chunks;
   workers cache string -> sympy. The unit of work is the *answer section*
   (`answer_section`): the end of the text, from a line break before which there is no
   box, no "final answer", no `$$` / `\\[`. An answer the section yields at priority
   0 or 50 is the whole text's answer (proof in its docstring; tests check it); any
   other section is redone on the whole text. Sections repeat across samples of a task,
   so most completions cost a dictionary lookup in the grader.
2. verify, once per distinct (task, key): `verify(parse(gold), prediction)`.

The gold is trusted: both of Math-Verify's readers may read it (a bare gold is LaTeX,
read inside `\\boxed{}`). Workers lift Python's 4300-digit limit, so a huge integer is
read as itself and not silently replaced by an earlier expression. The `answer` column is
Math-Verify's normalised string, never a sympy printout (printing can hang).
"""

from __future__ import annotations

import functools
import re
import time
from dataclasses import replace
from itertools import groupby
from typing import Any

from leash.grading.extract import after_think
from leash.grading.pool import TIMEOUT, JobError, WorkerPool
from leash.grading.registry import register_verifier
from leash.grading.verdict import GradeItem, Verdict, failed, no_answer

__all__ = ["MathVerifier", "extract_job", "verify_job"]

_CHUNK = 32  # texts per extraction job
_TAIL_CHARS = 4000  # the longest answer section used as a dedupe key
_NOTHING = 10**6  # the priority reported when no pattern found an answer
_SURE = 50  # answers found at this priority or stronger in the answer section hold for the whole text
_MAX_CHARS = 100_000  # the end of the text after </think> that is read (documented)

# (kind "latex" or "number", normalised text, is a percentage) for each expression of the winning match.
Groups = tuple[tuple[str, str, bool], ...]
# (groups of the match that parsed, or None; the first string seen, or None): what `parse` returns, as data.
Key = tuple[Groups | None, str | None]


_SPACED_NUMBER = re.compile(r"-?[0-9]{1,3}(?: [0-9]{3})+(?:\.[0-9]+)?")  # "1 000": LaTeX reads 1*000


@functools.lru_cache(maxsize=4096)
def _parse_gold(gold: str) -> Any:
    from math_verify import ExprExtractionConfig, LatexExtractionConfig, parse

    # The gold is trusted text: both extractors may read it. A bare gold is LaTeX (MATH's
    # answers are: "-2,1" is two roots), read inside \boxed{}, except "1 000", read as written.
    configs = [LatexExtractionConfig(), ExprExtractionConfig()]
    bare = "$" not in gold and "\\boxed" not in gold and not _SPACED_NUMBER.fullmatch(gold.strip())
    text = f"\\boxed{{{gold}}}" if bare else gold
    return parse(text, extraction_config=configs) or parse(f"${gold}$", extraction_config=configs)


@functools.lru_cache(maxsize=1)
def _configs() -> tuple[Any, Any]:
    from math_verify import ExprExtractionConfig, LatexExtractionConfig

    return LatexExtractionConfig(), ExprExtractionConfig()


_PLAIN_NUMBER = re.compile(r"-?[0-9]*(?:\.[0-9]+)?")


@functools.lru_cache(maxsize=65536)
def _parse_one(kind: str, text: str, percent: bool) -> Any:
    """One expression of a match -> sympy, or None when it does not parse (Math-Verify's rules).

    `latex`: Math-Verify's LaTeX reader on the normalised string. `number`: a plain
    number written outside LaTeX, built as Integer/Float from its digits where
    Math-Verify calls `Number(text)` (which goes through `sympify`, i.e. `eval`).
    """
    import sympy
    from latex2sympy2_extended.latex2sympy2 import convert_to_pct
    from math_verify.parser import parse_latex_cached

    try:
        if kind == "latex":
            expr = parse_latex_cached(text)
        elif _PLAIN_NUMBER.fullmatch(text) and text not in ("", "-"):
            expr = sympy.Float(text) if "." in text else sympy.Integer(int(text))
        else:  # non-ASCII digits: Math-Verify's sympify would fail on them too
            return None
        return convert_to_pct(expr) if percent else expr
    except Exception:  # a TimeoutException (BaseException) propagates and is not cached
        return None


def _latex_groups(match: re.Match[str], config: Any) -> Groups:
    """The expressions a LaTeX match captured, normalised as Math-Verify's `extract_latex` does."""
    from latex2sympy2_extended.latex2sympy2 import normalize_latex

    hits: dict[str, tuple[str, str]] = {}
    for name, value in match.groupdict().items():
        if value and "_latex" in name:
            hits.setdefault(name.split("_")[0], (value, name))
    out = []
    for prefix in ("first", "next1", "next2", "next3", "next4", "next5"):
        if prefix not in hits:
            continue
        latex, name = hits[prefix]
        norm = config.normalization_config
        if name.split("_")[1] == "latexBoxed":  # the greedy \boxed{.+} match keeps the last box
            norm = replace(norm, boxed="last")
        percent = bool(match.groupdict().get(f"{prefix}_percent"))
        out.append(("latex", normalize_latex(latex, config=norm), percent))
    return tuple(out)


def _read(match: re.Match[str], config: Any) -> tuple[Groups, str]:
    """A match -> (the expressions that decide its answer, the string Math-Verify records for it).

    LaTeX: all expressions when every one parses (joined into a set), else the first.
    Plain text: a number (its digits, thousands separators dropped, a decimal comma
    read as a point), as Math-Verify's `extract_expr`; an expression with operators
    is never parsed here (Math-Verify would `parse_expr` it) and reads as a failure.
    """
    if hasattr(config, "normalization_config"):
        groups = _latex_groups(match, config)
        parsed = [_parse_one(*g) for g in groups]
        if len(groups) > 1 and all(p is not None for p in parsed):
            return groups, " and ".join(g[1] for g in groups)
        return groups[:1], groups[0][1] if groups else ""
    found = match.groupdict()
    integer = next((v for n, v in found.items() if n.startswith("integer") and v), "")
    decimal = next((v for n, v in found.items() if n.startswith("decimal") and v), "")
    if integer or decimal:
        number = (integer.translate(str.maketrans("", "", ", ")).lstrip("0") or "0") + decimal.replace(
            ",", "."
        )
        return (("number", number, bool(found.get("percent"))),), number
    return (), found.get("expr") or ""


def _prediction(groups: Groups) -> Any:
    """The parsed answer of a match: one expression, or several joined into a set; None if it fails."""
    from latex2sympy2_extended.sets import FiniteSet

    exprs = [_parse_one(*g) for g in groups]
    if len(exprs) > 1:
        elements: list[Any] = []
        for e in exprs:
            elements.extend(e.args if isinstance(e, FiniteSet) else [e])
        return FiniteSet(*elements)
    return exprs[0] if exprs else None


def _label(groups: Groups) -> str:
    return " and ".join(text for _, text, _ in groups)


def _extract(text: str) -> tuple[Key, int]:
    """Math-Verify's `extract_target_from_pred` (LaTeX and numbers), returning data instead of
    sympy, and the priority of the pattern group that found the answer (`_NOTHING` if none)."""
    from math_verify.parser import get_extraction_regexes

    patterns = [(p, config, prio) for pats, config in get_extraction_regexes(_configs()) for p, prio in pats]
    first_seen: str | None = None
    for priority, group in groupby(sorted(patterns, key=lambda p: p[2]), key=lambda p: p[2]):
        matches = [(m, m.start(), m.end(), config) for p, config, _ in group for m in p.finditer(text)]
        for match, _, _, config in sorted(matches, key=lambda x: (x[2], -x[1]), reverse=True):
            groups, label = _read(match, config)
            first_seen = first_seen or label or None
            if groups and _prediction(groups) is not None:
                return (groups, first_seen), priority
    return (None, first_seen), _NOTHING


def extract_job(text: str) -> tuple[Key | None, int]:
    """In a worker: text -> (its answer key or None when nothing was found, the winning priority).

    No alarm here (Math-Verify's `parse` has a 5 s one): the pool's hard limit is the
    limit, and passing it is a visible `timeout`, not a silent "no answer".
    """
    try:
        (groups, first_seen), priority = _extract(text)
    except Exception:  # as in Math-Verify's `parse`: no answer
        return None, _NOTHING
    if groups is None and not first_seen:
        return None, _NOTHING
    return (groups, first_seen), priority


def verify_job(job: tuple[str, Key]) -> bool:
    """In a worker: (gold, answer key) -> `verify(parse(gold), prediction)`."""
    from math_verify import verify

    gold, (groups, first_seen) = job
    gold_parsed = _parse_gold(gold)
    pred: list[Any] = [] if groups is None else [_prediction(groups)]
    if first_seen:
        pred.append(first_seen)
    return bool(gold_parsed) and bool(pred) and bool(verify(gold_parsed, pred))


_WARM_UP = ["\\frac{1}{2}", "[2,5)", "(-\\infty, 2]", "\\{1,2,3\\}", "x^2+\\sqrt{2}", "x = 5", "a \\le b",
            "90^\\circ", "10\\%", "\\text{yes}", "\\begin{pmatrix}1 & 2\\\\3 & 4\\end{pmatrix}"]  # fmt: skip


def warm_up(budget: float = 30.0) -> None:
    """Fill the LaTeX parser's caches (its first parse of a form can take seconds), within `budget` s.

    The worker pool calls it when a worker starts, before the worker takes a job, so the
    import of sympy and the first parses never eat a real job's time limit."""
    start = time.monotonic()
    for latex in _WARM_UP:
        key, _ = extract_job(f"${latex}$")
        if key is not None:
            verify_job((latex, key))
        if time.monotonic() - start > budget:
            return


def extract_many(texts: list[str], budget: float) -> list[tuple[Key | None, int]]:
    """`extract_job` over texts until `budget` seconds have passed (at least one text): the
    caller sends the rest again, so a chunk of slow texts never reaches the hard limit."""
    start, out = time.monotonic(), []
    for text in texts:
        out.append(extract_job(text))
        if time.monotonic() - start > budget:
            break
    return out


def _job(job: tuple[str, Any]) -> Any:
    """The workers' one entry point: ("extract", text), ("extract_many", texts) or ("verify", (gold, key))."""
    kind, payload = job
    if kind == "extract_many":
        return extract_many(*payload)
    return extract_job(payload) if kind == "extract" else verify_job(payload)


_ANCHOR = re.compile(r"(?i:final answer)")  # the anchor of Math-Verify's strongest text patterns


def answer_section(text: str) -> str | None:
    """The end of `text`, from a line break on, that decides Math-Verify's answer when that
    answer is found at priority 0 or 50 (final-answer sentences, boxes); None if no short one.

    Those patterns all need "final answer" or `\\boxed` in the match, and only display
    math (`$$`, `\\[`) or a final-answer phrase spans lines; so when the text before the cut
    has none of `\\boxed`, "final answer", `$$`, `\\[`, every match of those groups lies
    after the cut and is found there alike (the cut keeps its newline for the lookbehinds).
    A weaker answer (priority 100 and below) may depend on the text before: the caller
    then extracts from the whole text. The cheap string work is done here, in the grader.
    """
    first = text.find("\\boxed")
    if first < 0:
        return None
    cut = text.rfind("\n", 0, first)
    for _ in range(4):
        if cut < 0 or len(text) - cut > _TAIL_CHARS:
            return None
        prefix = text[:cut]
        anchors = [m.start() for m in _ANCHOR.finditer(prefix)]
        last = max(prefix.rfind("$$"), prefix.rfind("\\["), anchors[-1] if anchors else -1)
        if last < 0:
            return text[cut:]
        cut = text.rfind("\n", 0, last)
    return None


class MathVerifier:
    name = "math"

    def __init__(self, workers: int = 2, timeout: float = 10.0, **_: Any) -> None:
        self.workers, self.timeout = workers, timeout
        self._pool: WorkerPool | None = None
        self.cache: dict[tuple[str, Key], Verdict] = {}

    @property
    def pool(self) -> WorkerPool:
        if self._pool is None:
            # Each worker runs `warm_up` as it starts, before its first job's clock (pool.py).
            self._pool = WorkerPool("leash.grading.math:_job", self.workers, self.timeout)
        return self._pool

    def grade(self, items: list[GradeItem]) -> list[Verdict]:
        verdicts: list[Verdict | None] = [None] * len(items)
        golds: dict[int, str] = {}
        wholes: dict[int, str] = {}
        sections: dict[int, str] = {}
        for i, item in enumerate(items):
            gold = (item.reference or {}).get("answer")
            if gold is None:
                verdicts[i] = failed("error", "task has no reference answer")
                continue
            golds[i] = str(gold[0] if isinstance(gold, list) and gold else gold)
            wholes[i] = after_think(item.text)[-_MAX_CHARS:]
            section = answer_section(wholes[i])
            if section is not None:
                sections[i] = section
        # Stage 1: one extraction per distinct answer section (or whole text, where it has none);
        # a section whose answer is not found by the strongest patterns is redone whole.
        results = self._extract({sections.get(i, wholes[i]) for i in golds})
        found = {i: results[sections.get(i, wholes[i])] for i in golds}
        unsure = [i for i in sections if isinstance(found[i], tuple) and found[i][1] > _SURE]
        results = self._extract({wholes[i] for i in unsure})
        found.update({i: results[wholes[i]] for i in unsure})
        keys: dict[int, Key] = {}
        for i, result in found.items():
            if result is TIMEOUT:
                verdicts[i] = failed("timeout", "extraction passed the hard time limit")
            elif isinstance(result, JobError):
                verdicts[i] = failed("error", str(result))
            elif result[0] is None:
                verdicts[i] = no_answer()
            else:
                keys[i] = result[0]
        # Stage 2: one verification per distinct (task, answer).
        jobs: dict[tuple[str, Key], tuple[str, Key]] = {}
        for i, key in keys.items():
            cache_key = (items[i].task_id, key)
            if cache_key not in self.cache:
                jobs[cache_key] = (golds[i], key)
        pending = list(jobs)
        for idx, result in self.pool.map([("verify", jobs[k]) for k in pending]):
            self.cache[pending[idx]] = self._verdict(pending[idx][1], result)
        for i, key in keys.items():
            verdicts[i] = self.cache[(items[i].task_id, key)]
        return verdicts  # type: ignore[return-value]

    def _extract(self, distinct: set[str]) -> dict[str, Any]:
        """Text -> `extract_job`'s (key, priority), TIMEOUT or a JobError. Texts travel in chunks
        (a round trip per text would cost more than its regex pass); a chunk that fails is
        redone text by text, so only the text at fault times out."""
        pending, alone = sorted(distinct), []
        results: dict[str, Any] = {}
        while pending:
            chunks = [pending[i : i + _CHUNK] for i in range(0, len(pending), _CHUNK)]
            pending = []
            for idx, result in self.pool.map([("extract_many", (c, self.timeout / 4)) for c in chunks]):
                if result is TIMEOUT or isinstance(result, JobError):
                    alone.extend(chunks[idx])
                    continue
                results.update(zip(chunks[idx], result, strict=False))
                pending.extend(chunks[idx][len(result) :])
        for idx, result in self.pool.map([("extract", t) for t in alone]):
            results[alone[idx]] = result
        return results

    @staticmethod
    def _verdict(key: Key, result: Any) -> Verdict:
        groups, first_seen = key
        answer = _label(groups) if groups is not None else first_seen
        if result is TIMEOUT:
            return failed("timeout", "verification passed the hard time limit", answer)
        if isinstance(result, JobError):
            return failed("error", str(result), answer)
        return Verdict(bool(result), float(bool(result)), answer, "ok")

    def close(self) -> None:
        if self._pool is not None:
            self._pool.close()
            self._pool = None


register_verifier("math", MathVerifier)
