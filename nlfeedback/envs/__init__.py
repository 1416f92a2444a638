"""The task suite, the EventTracker (per-step events and captions) and terminal rendering."""

from nlfeedback.envs.events import EventTracker, caption_for, parse_event
from nlfeedback.envs.tasks import DEFAULT_TASK, SUITE, Task, get_task, task_for_env_id, task_names

__all__ = [
    "DEFAULT_TASK", "SUITE", "EventTracker", "Task", "caption_for", "get_task", "parse_event",
    "task_for_env_id", "task_names",
]
