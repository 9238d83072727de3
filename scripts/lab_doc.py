"""Rewrite docs/lab.md's results from a lab study, stamped with the commit that produced them.

    python scripts/lab_doc.py                     run `leash demo --out runs/lab-doc`, then rewrite
    python scripts/lab_doc.py --from runs/demo    rewrite from a finished `leash demo` output
    python scripts/lab_doc.py --check             is the page's commit in git history? what changed since?

The results sit between the two `lab_doc:` markers of the page; the prose outside them is
kept as written. The block is made only from <study>/study.json (configuration, seconds per
stage, git commit, machine) and <study>/report/compare*.json, and the figures are the report's
own pass_at_k.png and regions.png, copied beside the page as lab_pass_at_k.png and
lab_regions.png. A study made from a checkout with uncommitted changes is refused (its
commit would not name the code), unless --allow-dirty, which says so in the stamp.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
PAGE = ROOT / "docs" / "lab.md"
BEGIN = "<!-- lab_doc:begin"
END = "<!-- lab_doc:end -->"
STAMP = re.compile(r"at commit `([0-9a-f]{7,40})`")
TABLE_KS = (1, 4, 16, 64, 256, 1024)
NAMES = {"base": "base", "grpo": "GRPO", "dapo": "DAPO", "rloo": "RLOO", "reinforce_pp": "Reinforce++"}


class DocError(Exception):
    """A study or page the script cannot use; the message says what and how to fix it."""


# --- reading the study ----------------------------------------------------------------------


def load_study(study: Path) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    """study.json and {tuned run name: its compare.json} from a `leash demo` output."""
    record_path = study / "study.json"
    if not record_path.is_file():
        raise DocError(f"{record_path} not found: give the --out of a finished `leash demo` (not --example)")
    record = json.loads(record_path.read_text())
    results = {}
    for path in sorted((study / "report").glob("compare*.json")):
        result = json.loads(path.read_text())
        results[Path(result["runs"]["tuned"]["path"]).name] = result
    missing = [m for m in record["models"][1:] if m not in results]
    if missing:
        raise DocError(f"{study / 'report'}: no comparison for {', '.join(missing)}; run the study again")
    # Every run must have been sampled at the commit the study started from (no commit in between).
    revisions = {r["runs"][side].get("git_revision") for r in results.values() for side in ("base", "tuned")}
    if revisions != {record.get("git_revision")}:
        raise DocError(
            f"{study}: its runs were made at several commits ({sorted(map(str, revisions))}); run again"
        )
    return record, results


def stamp(record: dict[str, Any], allow_dirty: bool) -> str:
    """`at commit `SHA``, refusing a study whose commit does not name the code that ran."""
    revision, dirty = record.get("git_revision"), record.get("git_dirty")
    if not revision:
        if not allow_dirty:
            raise DocError("the study ran outside a git checkout: no commit to name (--allow-dirty to go on)")
        return "outside a git checkout (no commit)"
    if dirty is not False and not allow_dirty:
        raise DocError(
            f"the study ran at {revision[:12]} with uncommitted changes: commit, run again (or --allow-dirty)"
        )
    return f"at commit `{revision[:12]}`" + (" with uncommitted changes" if dirty else "")


# --- formatting -----------------------------------------------------------------------------


def num(value: float | None, digits: int = 3) -> str:
    if value is None:
        return "–"
    return f"{value:.{digits}f}".replace("-", "−")


def name_of(run: str) -> str:
    return NAMES.get(run, run)


def listing(values: dict[str, str]) -> str:
    """'0.17 (GRPO) and 0.18 (DAPO)' or '0.17 (GRPO)'."""
    parts = [f"{v} ({name_of(k)})" for k, v in values.items()]
    return " and ".join(parts) if len(parts) <= 2 else ", ".join(parts[:-1]) + " and " + parts[-1]


def verdict(flags: list[bool]) -> str:
    return "yes" if all(flags) else "no" if not any(flags) else "partly"


def pass_table(results: dict[str, dict[str, Any]], models: list[str]) -> tuple[list[int], str]:
    first = results[models[1]]["pass_at_k"]
    ks = [k for k in first["k"] if k in TABLE_KS or k == first["k"][-1]]
    rows = {"base": [first["base"][first["k"].index(k)] for k in ks]}
    for m in models[1:]:
        block = results[m]["pass_at_k"]
        rows[m] = [block["tuned"][block["k"].index(k)] for k in ks]
    best = [max(col) for col in zip(*rows.values(), strict=True)]
    lines = ["| k | " + " | ".join(f"{k:,}" for k in ks) + " |", "| --- |" + " ---: |" * len(ks)]
    for m, values in rows.items():
        cells = [f"**{num(v)}**" if v == b else num(v) for v, b in zip(values, best, strict=True)]
        lines.append(f"| {name_of(m)} | " + " | ".join(cells) + " |")
    return ks, "\n".join(lines)


def support_table(results: dict[str, dict[str, Any]], models: list[str]) -> str:
    base_entropy = results[models[1]]["answer_entropy"]["base"]
    lines = [
        "| vs base | crossover k | P | S | E | O | SRR | NDR | NSCR | answer SRR "
        f"| answer entropy (base {num(base_entropy, 2)}) |",
        "| --- |" + " ---: |" * 10,
    ]
    for m in models[1:]:
        r = results[m]
        p, a = r["support"]["problem"], r["support"]["answer"]
        crossing = r["pass_at_k"]["crossover_k"]
        cells = [
            "–" if crossing is None else f"{crossing:,}",
            *(f"{p[x]:.0f}" for x in "PSEO"),
            num(p["SRR"]), num(p["NDR"]), num(p["NSCR"]), num(a["SRR"]),
            num(r["answer_entropy"]["tuned"], 2),
        ]  # fmt: skip
        lines.append(f"| {name_of(m)} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def checks(results: dict[str, dict[str, Any]], rl_models: list[str], distilled: str | None) -> list[str]:
    """The issue's expectations, each answered yes / no / partly from the numbers."""
    any_result = next(iter(results.values()))  # every comparison has the same base
    k_max = any_result["se_gap"]["k_max"]
    base1, base_max = any_result["se_gap"]["pass_at_1"]["base"], any_result["se_gap"]["pass_at_k_max"]["base"]
    out = []
    if rl_models:
        at1 = {m: results[m]["se_gap"]["pass_at_1"]["tuned"] for m in rl_models}
        at_max = {m: results[m]["se_gap"]["pass_at_k_max"]["tuned"] for m in rl_models}
        srr = {m: results[m]["support"]["problem"]["SRR"] for m in rl_models}
        nscr = {m: results[m]["support"]["problem"]["NSCR"] for m in rl_models}
        ent = {m: results[m]["answer_entropy"]["tuned"] for m in rl_models}
        base_ent = any_result["answer_entropy"]["base"]
        crossing = {m: results[m]["pass_at_k"]["crossover_k"] for m in rl_models}
        crossed = {m: f"k = {c:,}" for m, c in crossing.items() if c is not None}
        above = [m for m in rl_models if m not in crossed and at1[m] <= base1]  # no crossing: never below
        token = {m: results[m]["entropy"]["tuned"]["all"]["token_entropy"] for m in rl_models}
        base_token = any_result["entropy"]["base"]["all"]["token_entropy"]
        ppl = {m: (results[m]["perplexity"]["tuned"].get("base") or {}).get("all") for m in rl_models}
        base_ppl = (any_result["perplexity"]["base"].get("base") or {}).get("all")
        out += [
            f"- **RL pass@1 above the base's**: {verdict([v > base1 for v in at1.values()])} — "
            f"{listing({m: num(v) for m, v in at1.items()})} vs {num(base1)}.",
            f"- **The base at or above RL at the largest k, with the crossover k**: "
            f"{verdict([base_max >= v for v in at_max.values()])} — at k = {k_max:,} the base solves "
            f"{num(base_max)} of the problems, {listing({m: num(v) for m, v in at_max.items()})}"
            + (f"; the base overtakes at {listing(crossed)}" if crossed else "")
            + (f"; the base is at or above {', '.join(map(name_of, above))} at every k." if above else "."),
            f"- **SRR < 1 and NSCR < 0**: {verdict([srr[m] < 1 and nscr[m] < 0 for m in rl_models])} — "
            f"SRR {listing({m: num(v) for m, v in srr.items()})}, "
            f"NSCR {listing({m: num(v) for m, v in nscr.items()})} (the papers: SRR ~0.9).",
            f"- **Answer entropy lower after RL**: {verdict([v < base_ent for v in ent.values()])} — "
            f"{num(base_ent, 2)} nats → {listing({m: num(v, 2) for m, v in ent.items()})}; token entropy "
            f"{num(base_token)} → {listing({m: num(v) for m, v in token.items()})}.",
            f"- **RL outputs likely under the base**: perplexity under the base of "
            f"{listing({m: num(v) for m, v in ppl.items()})} completions, against {num(base_ppl)} "
            "for the base's own samples.",
        ]
    if distilled:
        block = results[distilled]["pass_at_k"]
        pairs = [(k, b, t) for k, b, t in zip(block["k"], block["base"], block["tuned"], strict=True)
                 if b is not None and t is not None]  # fmt: skip
        below = [k for k, b, t in pairs if t < b]
        d1, dmax = (
            results[distilled]["se_gap"]["pass_at_1"]["tuned"],
            results[distilled]["se_gap"]["pass_at_k_max"]["tuned"],
        )
        detail = (
            f"pass@1 {num(d1)} vs {num(base1)}, pass@{k_max:,} {num(dmax)} vs {num(base_max)}"
            if not below
            else f"pass@1 {num(d1)} vs {num(base1)}; below the base from k = {below[0]:,} "
            f"({num(dmax)} vs {num(base_max)} at k = {k_max:,})"
        )
        out.append(
            f"- **The distilled model above the base at every k**: {'no' if below else 'yes'} — {detail}."
        )
    return out


def rate(steps: int, seconds: float) -> str:
    value = steps / max(seconds, 0.01)
    return f"{value:.1f}" if value >= 1 else f"{value:.3f}"


def timings(record: dict[str, Any]) -> str:
    seconds, config = record["seconds"], record["config"]
    rl = [seconds[f"rl {a}"] for a in config["algos"] if f"rl {a}" in seconds]
    speed = f"pretraining {rate(config['pretrain_steps'], seconds['pretrain base'])} steps/s (batch 64)"
    if rl:
        speed += f", RL {rate(config['rl_steps'], sum(rl) / len(rl))} steps/s (16 × 8 samples)"
    stages = " · ".join(f"{name} {s:.0f}" for name, s in seconds.items())
    return f"Speed: {speed}. Seconds per stage: {stages}."


def render_block(record: dict[str, Any], results: dict[str, dict[str, Any]], made_at: str) -> str:
    """The Markdown between the markers (markers included)."""
    models = record["models"]
    config = record["config"]
    rl_models = [m for m in models[1:] if m in config["algos"]]
    distilled = "distilled" if "distilled" in models else None
    ks, table = pass_table(results, models)
    total = sum(record["seconds"].values()) / 60
    problems = results[models[1]]["tasks"]["compared"]
    title = "`leash demo`" if config["n"] >= 1024 else f"`leash demo --quick`, toy size: n = {config['n']}"
    parts = [
        f"{BEGIN}: scripts/lab_doc.py writes this block from a study; edit the script, not the block -->",
        f"## What came out ({title}, {record['finished'][:10]}, {total:.1f} min)",
        "",
        f"Made {made_at}, on {record['machine']}; finished {record['finished']}. "
        "`python scripts/lab_doc.py` runs the study again and rewrites this block and the figures.",
        "",
        f"pass@k (mean over the {problems} problems; bold: the best at each k):",
        "",
        table,
        "",
        "![pass@k of the models](lab_pass_at_k.png)",
        "",
        f"Support at k = {ks[-1]:,} (problems; the answer grain counts distinct correct answers):",
        "",
        support_table(results, models),
        "",
        "![support regions](lab_regions.png)",
        "",
        "Against what the issue asked the demo to show:",
        "",
        *checks(results, rl_models, distilled),
        "",
        timings(record),
        END,
    ]
    return "\n".join(parts)


# --- the page -------------------------------------------------------------------------------


def rewrite_page(page: Path, study: Path, allow_dirty: bool = False) -> str:
    """Replace the page's block with the study's results and copy the figures beside it."""
    record, results = load_study(study)
    made_at = stamp(record, allow_dirty)
    text = page.read_text()
    start, end = text.find(BEGIN), text.find(END)
    if start < 0 or end < start:
        raise DocError(f"{page}: no `{BEGIN} ... {END}` block to rewrite; put the two markers back")
    text = text[:start] + render_block(record, results, made_at) + text[end + len(END) :]
    for name in ("pass_at_k", "regions"):
        shutil.copyfile(study / "report" / f"{name}.png", page.parent / f"lab_{name}.png")
    tmp = page.with_name(f".{page.name}.partial")
    tmp.write_text(text)
    tmp.replace(page)
    return made_at


def stamped_commit(page: Path) -> str | None:
    """The commit the page's results name, or None when the page names none."""
    found = STAMP.search(page.read_text())
    return found.group(1) if found else None


def git(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, timeout=30)


def check(page: Path) -> int:
    """0 if the page names a commit of this history; prints the source files changed since."""
    commit = stamped_commit(page)
    if commit is None:
        print(f"{page}: names no commit; run python scripts/lab_doc.py")
        return 1
    if git("merge-base", "--is-ancestor", commit, "HEAD").returncode != 0:
        print(f"{page}: commit {commit} is not in this branch's history; run python scripts/lab_doc.py")
        return 1
    changed = git("diff", "--name-only", commit, "HEAD", "--", "src/leash").stdout.split()
    print(f"{page}: results from {commit}; {len(changed)} files under src/leash changed since")
    for name in changed:
        print(f"  {name}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--from", dest="study", type=Path, help="a finished `leash demo` output")
    parser.add_argument("--out", type=Path, default=ROOT / "runs" / "lab-doc", help="where to run the study")
    parser.add_argument("--quick", action="store_true", help="run the study at toy size (for tests)")
    parser.add_argument("--page", type=Path, default=PAGE, help="the page to rewrite (docs/lab.md)")
    parser.add_argument("--allow-dirty", action="store_true", help="accept uncommitted changes (stamped)")
    parser.add_argument("--check", action="store_true", help="only check the page's stamped commit")
    args = parser.parse_args(argv)
    if args.check:
        return check(args.page)
    study = args.study
    if study is None:
        demo = [
            sys.executable,
            "-m",
            "leash",
            "demo",
            "--out",
            str(args.out),
            *(["--quick"] if args.quick else []),
        ]
        if subprocess.run(demo).returncode != 0:
            return 1
        study = args.out
    try:
        made_at = rewrite_page(args.page, study, args.allow_dirty)
    except DocError as err:
        print(f"lab_doc: error: {err}", file=sys.stderr)
        return 2
    print(f"rewrote {args.page} and its figures from {study}, {made_at}")
    record = json.loads((study / "study.json").read_text())
    total, stated = (
        sum(record["seconds"].values()) / 60,
        re.search(r"~(\d+) min", (ROOT / "README.md").read_text()),
    )
    if record["config"]["n"] >= 1024 and stated and abs(total - int(stated.group(1))) > 1.5:
        print(
            f"note: the study took {total:.1f} min; README.md, docs/lab.md's command list and "
            f"`leash demo --help` say ~{stated.group(1)}: update the three together"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
