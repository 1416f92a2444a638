"""An ensemble of step-level readers: members' per-step probabilities averaged; saved and loaded as one file."""

from __future__ import annotations

import numpy as np
import pytest

from nlfeedback.envs import get_task
from nlfeedback.policies import make_policy
from nlfeedback.rollout import rollout

pytestmark = pytest.mark.slow  # loads the trained reader (seconds)

TEXTS = ["walking into the lava like that was awful", "the first few moves were fine, then you got lost",
         "nice job", "step 3 was a waste"]


@pytest.fixture(scope="module")
def members(tmp_path_factory):
    """The shipped reader and a second one: its output layer nudged (seeded), saved and loaded back."""
    import torch

    from nlfeedback.language.interpreters.trained import TrainedInterpreter, default_checkpoint
    from nlfeedback.language.reader import load_reader

    a = TrainedInterpreter.load()
    model, meta = load_reader(str(default_checkpoint()))
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for p in model.rule.parameters():
            p.add_(torch.randn(p.shape, generator=gen) * 0.3)
        for p in (model.out if hasattr(model, "out") else model.about_out).parameters():
            p.add_(torch.randn(p.shape, generator=gen) * 0.3)
    path = tmp_path_factory.mktemp("b") / "b.pt"
    TrainedInterpreter(model, {**meta, "about_threshold": 0.4}).save(path)
    return a, TrainedInterpreter.load(path)


@pytest.fixture(scope="module")
def runs():
    return list(rollout(get_task("doorkey-5x5"), make_policy("expert", mistakes=0.3), 2, seed=5))


def test_an_ensemble_reads_the_mean_of_its_members_probabilities(members, runs, tmp_path):
    from nlfeedback.language.interpreters.trained import TrainedInterpreter
    from nlfeedback.language.train_interpreter import combine_readers

    a, b = members
    combine_readers([a, b]).save(tmp_path / "e.pt")
    ens = TrainedInterpreter.load(tmp_path / "e.pt")
    assert len(ens.members) == 2 and len(ens.meta["ensemble"]) == 2
    assert ens.about == pytest.approx((a.about + 0.4) / 2)  # no development remarks: the members' mean
    items = [(text, traj) for traj in runs for text in TEXTS]
    pa, pb, pe = a.predict(items), b.predict(items), ens.predict(items)
    differ = False
    for x, y, z in zip(pa, pb, pe):
        for k in ("about", "positive", "strength", "rule"):
            np.testing.assert_allclose(z[k], (x[k] + y[k]) / 2, rtol=1e-5, atol=1e-6)
        differ |= not np.allclose(x["about"], y["about"], atol=1e-3)
    assert differ  # the two members really read differently
    # the ensemble's readings are those of the averaged probabilities at its threshold
    from nlfeedback.feedback.labels import labelled_feedback
    from nlfeedback.language.interpreters.trained import reading_of

    fb = labelled_feedback({"text": TEXTS[0], "categories": ["evaluative"], "clauses": [
        {"quote": TEXTS[0], "steps": "all", "polarity": -1, "strength": 1}]}, runs[0], id="x", annotator="t")
    got = ens.read_many([(fb, runs[0])])[0]
    want = reading_of(pe[0], ens.about)
    assert [(c.steps, c.polarity) for c in got.clauses] == [(c.steps, c.polarity) for c in want.clauses]


def test_an_ensemble_of_one_reader_is_refused_and_a_threshold_can_be_chosen_on_dev(members, runs):
    from nlfeedback.errors import NlfError
    from nlfeedback.feedback.labels import labelled_feedback
    from nlfeedback.language.train_interpreter import ABOUT_GRID, combine_readers

    a, b = members
    with pytest.raises(NlfError, match="at least two readers"):
        combine_readers([a])
    traj = runs[0]
    dev = [labelled_feedback({"text": text, "categories": ["evaluative"], "clauses": [
        {"quote": text, "steps": "all", "polarity": 1, "strength": 1}]}, traj, id=f"d{i}", annotator="x")
        for i, text in enumerate(["good run", "well done, all of it"])]
    with pytest.raises(NlfError, match="need their trajectories"):
        combine_readers([a, b], dev=dev)
    ens = combine_readers([a, b], dev=dev, trajectories={traj.id: traj})
    assert ens.about in ABOUT_GRID and [r["about_threshold"] for r in ens.meta["dev"]] == list(ABOUT_GRID)


def test_combine_interpreters_cli(members, tmp_path):
    from typer.testing import CliRunner

    from cli.main import app
    from nlfeedback.language.interpreters.trained import TrainedInterpreter, default_checkpoint

    a, b = members
    b.save(tmp_path / "b.pt")
    out = tmp_path / "e.pt"
    r = CliRunner().invoke(app, ["combine-interpreters", str(default_checkpoint()), str(tmp_path / "b.pt"),
                                 "--out", str(out)])
    assert r.exit_code == 0, r.output
    assert "ensemble of 2 readers" in r.output and len(TrainedInterpreter.load(out).members) == 2
    before = out.read_bytes()
    r = CliRunner().invoke(app, ["combine-interpreters", str(default_checkpoint()), str(tmp_path / "b.pt"),
                                 "--out", str(out)])
    assert r.exit_code == 1 and "already exists; pass --force" in r.output and out.read_bytes() == before
    r = CliRunner().invoke(app, ["combine-interpreters", str(default_checkpoint()), "--out", str(tmp_path / "one.pt")])
    assert r.exit_code == 1 and "at least two readers" in r.output and not (tmp_path / "one.pt").exists()


def test_a_checkpoint_without_members_or_with_a_bad_member_is_a_clear_error(members, tmp_path):
    import torch

    from nlfeedback.errors import NlfError
    from nlfeedback.language.interpreters.trained import TrainedInterpreter, default_checkpoint
    from nlfeedback.language.reader import READER_FORMAT, load_reader

    torch.save({"format": READER_FORMAT, "members": [], "meta": {}}, tmp_path / "empty.pt")
    with pytest.raises(NlfError, match="without members"):
        TrainedInterpreter.load(tmp_path / "empty.pt")
    blob = torch.load(default_checkpoint(), weights_only=False)
    bad = {k: v for k, v in blob["state"].items() if not k.startswith("rule.")}
    torch.save({"format": READER_FORMAT, "members": [{"config": blob["config"], "state": blob["state"]},
                                                     {"config": blob["config"], "state": bad}], "meta": {}},
               tmp_path / "bad.pt")
    with pytest.raises(NlfError, match=r"member 1\) does not fit"):
        TrainedInterpreter.load(tmp_path / "bad.pt")
    from nlfeedback.language.train_interpreter import combine_readers

    combined = tmp_path / "two.pt"
    combine_readers(list(members)).save(combined)
    with pytest.raises(ValueError, match="ensemble of 2 readers"):
        load_reader(str(combined))
