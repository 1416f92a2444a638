"""Feedback records of four kinds (``nlf.feedback/1``) and their JSONL store."""

from nlfeedback.feedback.schema import (
    FEEDBACK_SCHEMA,
    KINDS,
    Clause,
    FeedbackBase,
    PreferenceFeedback,
    ScalarFeedback,
    SketchFeedback,
    Source,
    TextFeedback,
    parse_feedback,
)
from nlfeedback.feedback.store import FeedbackWriter, read_feedback

__all__ = [
    "FEEDBACK_SCHEMA", "KINDS", "Clause", "FeedbackBase", "FeedbackWriter", "PreferenceFeedback",
    "ScalarFeedback", "SketchFeedback", "Source", "TextFeedback", "parse_feedback", "read_feedback",
]
