"""Tasks: what to ask. A task has a stable task_id, a prompt, a reference, a verifier name.

`read_task_file` reads the JSONL task-definition format shared by `leash import --tasks`
and the `file:` task source.
"""

from leash.tasks.files import read_task_file, task_row

__all__ = ["read_task_file", "task_row"]
