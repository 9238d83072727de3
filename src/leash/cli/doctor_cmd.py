"""`leash doctor`: what this machine offers leash (sandbox layers, optional backends)."""

from __future__ import annotations

import importlib.util

from rich.console import Console
from rich.table import Table

from leash.grading.sandbox import probe


def doctor_command() -> None:
    """Report the sandbox layers available here and which optional parts are installed."""
    caps = probe()
    console = Console(soft_wrap=True)
    table = Table(title="sandbox", title_justify="left")
    table.add_column("layer")
    table.add_column("here")
    table.add_row("separate process, session, rlimits (prlimit)", "yes" if caps.prlimit else "no prlimit")
    table.add_row("dedicated unprivileged uid", "yes" if caps.uid_switch else "no")
    table.add_row("network + PID namespaces (unshare)", "yes" if caps.namespaces else "no")
    table.add_row("Landlock + seccomp", "not used")
    table.add_row("interpreter for sandboxed code", caps.interpreter)
    console.print(table)
    console.print(
        f"sandbox level: [bold]{caps.level}[/]" + ("" if caps.full else "  (grade --strict refuses)")
    )
    for note in caps.notes:
        console.print(f"  - {note}")
    parts = Table(title="optional parts", title_justify="left")
    parts.add_column("extra")
    parts.add_column("module")
    parts.add_column("installed")
    optional = [
        ("hf", "torch"), ("hf", "transformers"), ("math", "math_verify"), ("rg", "reasoning_gym"),
        ("hub", "datasets"), ("openai", "httpx"), ("vllm", "vllm"), ("ray", "ray"),
    ]  # fmt: skip
    for extra, module in optional:
        parts.add_row(extra, module, "yes" if importlib.util.find_spec(module) else "no")
    console.print(parts)
