import numpy as np
import pytest

from assistant.rules.meaning import ROLES, Example, load_examples, read_model, train_role, training_digest


def test_shipped_model_matches_the_training_corpora():
    models, digest = read_model()
    assert digest == training_digest(), "training data changed: run `callassist rules train` and commit the model"
    for role, cats in ROLES.items():
        assert models[role].categories == cats
        assert models[role].w1.shape[0] == 515 and models[role].w2.shape[1] == len(cats)
        assert set(models[role].thresholds) == {"zh", "en"}


def test_training_corpora_cover_every_category():
    examples = load_examples()
    for role, cats in ROLES.items():
        seen = {c for e in examples if e.speaker == role for c in e.labels}
        assert set(cats) <= seen
        assert any(not e.labels for e in examples if e.speaker == role), f"{role}: needs clean examples"


@pytest.mark.slow
def test_train_role_learns_a_separable_problem():
    rng = np.random.default_rng(0)
    cats = ROLES["customer"]
    centres = rng.normal(size=(len(cats) + 1, 512))
    examples, vecs = [], []
    for k in range(len(cats) + 1):
        for _ in range(20):
            v = centres[k] + 0.3 * rng.normal(size=512)
            vecs.append(v / np.linalg.norm(v))
            examples.append(Example("x", "customer", (cats[k],) if k < len(cats) else (), "en"))
    model, report = train_role(np.array(vecs), examples, "customer")
    assert report["en"]["line_recall"] > 0.95 and report["en"]["false_alarm_rate"] < 0.1
    probs = model.probabilities(np.array(vecs[:20]))
    assert (probs[:, 0] >= model.thresholds["en"][0]).mean() > 0.9
