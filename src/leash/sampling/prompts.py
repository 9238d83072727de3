"""The exact prompt text a model is given: a chat template or a plain one."""

from __future__ import annotations

from typing import Any

from leash.errors import LeashError
from leash.tasks import Task

__all__ = ["plain_prompt", "render_prompt"]


def plain_prompt(task: Task) -> str:
    """No chat template: the system text (if any), a blank line, the question, a newline."""
    head = f"{task.system.rstrip()}\n\n" if task.system else ""
    return f"{head}{task.question}\n"


def render_prompt(task: Task, tokenizer: Any | None, chat: bool | None) -> str:
    """chat=None uses the tokenizer's chat template when it has one, else the plain template."""
    has_template = tokenizer is not None and getattr(tokenizer, "chat_template", None)
    if chat is None:
        chat = bool(has_template)
    if not chat:
        return plain_prompt(task)
    if not has_template or tokenizer is None:
        raise LeashError(
            "--chat-template: the model's tokenizer has no chat template; use --no-chat-template"
        )
    messages = ([{"role": "system", "content": task.system}] if task.system else []) + [
        {"role": "user", "content": task.question}
    ]
    text: str = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    return text
