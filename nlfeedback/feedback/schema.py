"""``nlf.feedback/1`` records: one pydantic model per kind (text, scalar, sketch, preference).

Shared fields: ``id``, ``kind``, ``trajectory_id``, ``segment`` (half-open ``[start, end)`` step range
of the trajectory, ``0 <= start < end <= T``), ``source``, ``created_at`` (ISO 8601), ``annotation_seconds``
and ``intent``. Critics always record an intent (what they meant: the ground truth misinterpretation is
scored against); humans never do.

Step numbers inside records are 0-based indices into the trajectory's action list; in rendered text
people count from 1 ("at step 3" is index 2), as ``nlf show`` does.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

FEEDBACK_SCHEMA = "nlf.feedback/1"
KINDS = ("text", "scalar", "sketch", "preference")
TEXT_TYPES = ("evaluative", "imperative", "descriptive", "vague", "mixed")
CATEGORIES = ("evaluative", "imperative", "descriptive", "negation", "double_negation", "temporal",
              "referent", "mixed", "vague")
# Categories a person labelling human remarks may give: the critics' categories plus what people do that
# no template does (sarcasm, counterfactual advice, quantities, explicit step numbers, whole-run verdicts,
# off-topic text).
LABEL_CATEGORIES = CATEGORIES + ("sarcasm", "counterfactual", "quantity", "step_number", "whole_run", "off_topic")
VERDICTS = ("accepted", "fixed", "rephrased")
NOISE_NAMES = ("stochastic", "mistake", "skip", "equal", "myopic", "wrong_referent", "vague")

_STRICT = ConfigDict(extra="forbid", frozen=True, strict=True, allow_inf_nan=False, populate_by_name=True)

Step = Annotated[int, Field(ge=0)]
Unit = Annotated[float, Field(ge=-1.0, le=1.0)]


class Source(BaseModel):
    """Who gave the feedback: a scripted ``critic`` (with its noise settings) or a ``human`` annotator."""

    model_config = _STRICT
    type: Literal["critic", "human"]
    name: str | None = None
    annotator: str | None = None
    noise: dict[str, float] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _who(self) -> Source:
        if self.type == "human" and not (self.annotator and self.annotator.strip()):
            raise ValueError("human feedback needs a non-empty 'source.annotator'")
        if self.type == "critic" and not self.name:
            raise ValueError("critic feedback needs 'source.name'")
        unknown = set(self.noise) - set(NOISE_NAMES)
        if unknown:
            raise ValueError(f"unknown noise {sorted(unknown)} (valid: {', '.join(NOISE_NAMES)})")
        return self


class Clause(BaseModel):
    """One thing a remark says: these ``steps`` were good (+1) or bad (−1), this strongly, about this."""

    model_config = _STRICT
    steps: list[Step]
    polarity: Literal[-1, 0, 1]
    strength: float = Field(ge=0.0, le=1.0)
    referent: str | None = None
    moment: str | None = None
    scope: Literal["episode", "general"] = "episode"
    pattern: str | None = None  # general rules: the event pattern they cover, e.g. "entered:lava"
    when: str | None = None  # temporal reference used: step:N (1-based), start, middle, end, after:A, before:A
    span: list[Annotated[int, Field(ge=0)]] | None = Field(None, min_length=2, max_length=2)  # [start, end) in the text

    @model_validator(mode="after")
    def _general_has_pattern(self) -> Clause:
        if self.scope == "general" and not self.pattern:
            raise ValueError("a clause with scope 'general' needs the event 'pattern' it covers")
        return self


class TextIntent(BaseModel):
    model_config = _STRICT
    type: Literal["evaluative", "imperative", "descriptive", "vague", "mixed"]
    categories: list[Literal["evaluative", "imperative", "descriptive", "negation", "double_negation",
                             "temporal", "referent", "mixed", "vague"]]
    clauses: list[Clause]
    template: str
    split: Literal["train", "heldout", "human"]
    noise: list[str] = Field(default_factory=list)
    said_referent: str | None = None  # with wrong_referent noise: what the text named instead


class TextLabels(BaseModel):
    """Gold labels of a human remark, made by someone who read it (not the writer's own intent record).

    ``clauses`` as in an intent (steps 0-based; ``scope: "general"`` clauses carry their ``pattern`` and the
    steps of this trajectory it covers). ``negates``: this remark was written by hand as the negation of
    the remark with that id (a negation-flip probe pair)."""

    model_config = _STRICT
    clauses: list[Clause]
    categories: list[Literal["evaluative", "imperative", "descriptive", "negation", "double_negation",
                             "temporal", "referent", "mixed", "vague", "sarcasm", "counterfactual",
                             "quantity", "step_number", "whole_run", "off_topic"]] = Field(default_factory=list)
    labeller: str | None = None
    negates: str | None = None


class ReadBack(BaseModel):
    """How a human remark was read back to its writer, and what they said of the reading.

    The collector shows the person the ``reading`` an interpreter made of their remark; they accept it,
    fix it (the corrected clauses become the record's gold ``labels``, ``labeller`` the annotator) or
    rephrase the remark (``original_text`` keeps the first text, the record's ``text`` is the new one)."""

    model_config = _STRICT
    interpreter: str = Field(min_length=1)  # the interpreter's name (keyword, zero-shot, trained, …)
    checkpoint: str | None = Field(None, min_length=1)  # its checkpoint digest; None without a checkpoint
    # the clauses as read and shown, steps 0-based inside the record's segment; for a rephrased remark,
    # the reading of ``original_text`` (the one the person did not let stand)
    reading: list[Clause]
    verdict: Literal["accepted", "fixed", "rephrased"]
    original_text: str | None = Field(None, max_length=10_000)  # rephrased only: the first text
    seconds: float = Field(ge=0.0)  # time spent on the read-back, included in ``annotation_seconds``


class ScalarIntent(BaseModel):
    model_config = _STRICT
    type: Literal["rating"] = "rating"
    value: float  # the noise-free rating on the record's scale
    noise: list[str] = Field(default_factory=list)


class SketchIntent(BaseModel):
    model_config = _STRICT
    type: Literal["sketch"] = "sketch"
    curve: list[Unit]  # the noise-free drawing
    noise: list[str] = Field(default_factory=list)


class PreferenceIntent(BaseModel):
    model_config = _STRICT
    type: Literal["preference"] = "preference"
    preferred: Literal[0, 1, 0.5]  # the noise-free answer
    values: list[float] = Field(min_length=2, max_length=2)  # judged values of the two segments
    noise: list[str] = Field(default_factory=list)


class FeedbackBase(BaseModel):
    model_config = _STRICT
    schema_: Literal["nlf.feedback/1"] = Field(FEEDBACK_SCHEMA, alias="schema")
    id: str = Field(min_length=1, max_length=200)
    kind: str
    trajectory_id: str = Field(min_length=1)
    segment: list[Step] = Field(min_length=2, max_length=2)
    source: Source
    created_at: str
    annotation_seconds: float = Field(ge=0.0)

    @field_validator("segment")
    @classmethod
    def _segment_order(cls, v: list[int]) -> list[int]:
        if not v[0] < v[1]:
            raise ValueError(f"segment {v} must be [start, end) with start < end")
        return v

    @field_validator("created_at")
    @classmethod
    def _iso_time(cls, v: str) -> str:
        try:
            datetime.fromisoformat(v.replace("Z", "+00:00"))
        except ValueError:
            raise ValueError(f"{v!r} is not an ISO 8601 time") from None
        return v

    @model_validator(mode="after")
    def _intent_matches_source(self) -> FeedbackBase:
        intent = getattr(self, "intent", None)
        if self.source.type == "human" and intent is not None:
            raise ValueError("field 'intent': human feedback has no 'intent' (only scripted critics record one)")
        if self.source.type == "critic" and intent is None:
            raise ValueError("field 'intent': critic feedback must record its 'intent'")
        return self

    @property
    def length(self) -> int:
        return self.segment[1] - self.segment[0]

    def to_json(self) -> dict[str, Any]:
        return self.model_dump(by_alias=True, mode="json", exclude_none=True)


class TextFeedback(FeedbackBase):
    kind: Literal["text"] = "text"
    text: str = Field(max_length=10_000)
    intent: TextIntent | None = None
    labels: TextLabels | None = None  # human remarks only: gold clauses from someone who read the remark
    readback: ReadBack | None = None  # human remarks only: the reading shown to the writer and their verdict

    @model_validator(mode="after")
    def _labels_are_human(self) -> TextFeedback:
        if self.labels is not None and self.source.type != "human":
            raise ValueError("field 'labels': 'labels' are for human remarks (critics record an 'intent')")
        return self

    @model_validator(mode="after")
    def _readback_fits(self) -> TextFeedback:
        rb = self.readback
        if rb is None:
            return self
        if self.source.type != "human":
            raise ValueError("field 'readback': a read-back is for human remarks")
        if rb.verdict == "fixed" and self.labels is None:
            raise ValueError("field 'labels': a fixed read-back needs the corrected clauses as 'labels'")
        if rb.verdict == "rephrased":
            if rb.original_text is None or not rb.original_text.strip():
                raise ValueError("field 'readback.original_text': a rephrased remark keeps its first, "
                                 "non-empty text")
            if rb.original_text.strip() == self.text.strip():
                raise ValueError("field 'readback.original_text': the rephrased text is the same as the first")
        elif rb.original_text is not None:
            raise ValueError(f"field 'readback.original_text': only a rephrased remark has one (verdict "
                             f"{rb.verdict!r})")
        if rb.seconds > self.annotation_seconds:
            raise ValueError(f"field 'readback.seconds': {rb.seconds:g} s of read-back is more than the "
                             f"{self.annotation_seconds:g} s of 'annotation_seconds' that include it")
        start, end = self.segment
        for name, clauses in (("readback.reading", rb.reading),
                              ("labels.clauses", self.labels.clauses if self.labels else [])):
            for i, c in enumerate(clauses):
                outside = [s for s in c.steps if not start <= s < end]
                if outside:
                    raise ValueError(f"field '{name}.{i}.steps': step {outside[0]} is outside the segment "
                                     f"{self.segment}")
        return self


class ScalarFeedback(FeedbackBase):
    kind: Literal["scalar"] = "scalar"
    value: float
    scale: list[float] = Field(min_length=2, max_length=2)
    intent: ScalarIntent | None = None

    @model_validator(mode="after")
    def _in_scale(self) -> ScalarFeedback:
        lo, hi = self.scale
        if not lo < hi:
            raise ValueError(f"field 'scale': {self.scale} must be [low, high] with low < high")
        if not lo <= self.value <= hi:
            raise ValueError(f"field 'value': {self.value} is outside the scale [{lo:g}, {hi:g}]")
        return self


class SketchFeedback(FeedbackBase):
    kind: Literal["sketch"] = "sketch"
    curve: list[Unit]
    intent: SketchIntent | None = None

    @model_validator(mode="after")
    def _one_value_per_step(self) -> SketchFeedback:
        if len(self.curve) != self.length:
            raise ValueError(f"field 'curve': {len(self.curve)} values but the segment {self.segment} has "
                             f"{self.length} steps")
        return self


class PreferenceFeedback(FeedbackBase):
    kind: Literal["preference"] = "preference"
    other_trajectory_id: str = Field(min_length=1)
    other_segment: list[Step] = Field(min_length=2, max_length=2)
    preferred: Literal[0, 1, 0.5]  # 0: this segment, 1: the other one, 0.5: can't tell
    intent: PreferenceIntent | None = None

    @field_validator("other_segment")
    @classmethod
    def _other_order(cls, v: list[int]) -> list[int]:
        if not v[0] < v[1]:
            raise ValueError(f"other_segment {v} must be [start, end) with start < end")
        return v


Feedback = Union[TextFeedback, ScalarFeedback, SketchFeedback, PreferenceFeedback]
MODELS: dict[str, type[FeedbackBase]] = {
    "text": TextFeedback, "scalar": ScalarFeedback, "sketch": SketchFeedback, "preference": PreferenceFeedback,
}


def parse_feedback(value: dict[str, Any]) -> FeedbackBase:
    """Validate one JSON object as feedback of its ``kind`` (raises ``ValidationError``/``ValueError``)."""
    kind = value.get("kind")
    if kind not in KINDS:
        raise ValueError(f"field 'kind': {kind!r} is not one of {', '.join(KINDS)}")
    return MODELS[kind].model_validate(value)
