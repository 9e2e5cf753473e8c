"""benchmarks/accuracy.py --long: the mean over seeds of a network's long schedule."""

import json
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"


def _run(results: Path, name: str, seed: int, acc: dict, epochs: int = 12, done: int = 12):
    runs = {b: {"epochs_done": done, "test_accuracy": a / 100} for b, a in acc.items()}
    (results / name).write_text(json.dumps({"arch": "reactnet", "width": 1.0, "epochs": epochs, "subset": None,
                                            "crop_pad": 4, "blocks": None, "seed": seed, "runs": runs}))


def test_seeds_mean_judges_the_targets_on_finished_runs_of_one_schedule(tmp_path):
    sys.path.insert(0, str(BENCH))
    import accuracy

    assert accuracy._seeds_mean(tmp_path, "reactnet", 1.0) is None  # nothing run
    _run(tmp_path, "accuracy_long_reactnet_w1.json", 0, {"sign": 91.0, "lab": 91.9, "dybnn": 91.4})
    assert accuracy._seeds_mean(tmp_path, "reactnet", 1.0) is None  # one seed: no mean
    _run(tmp_path, "accuracy_long_reactnet_w1_s1.json", 1, {"sign": 90.8, "lab": 92.3, "dybnn": 91.5})
    _run(tmp_path, "accuracy_long_reactnet_w1_s2.json", 2, {"sign": 99.0, "lab": 50.0, "dybnn": 50.0}, done=5)
    _run(tmp_path, "accuracy_long_reactnet_w1_s3.json", 3, {"sign": 99.0, "lab": 50.0, "dybnn": 50.0}, epochs=3, done=3)
    lines = accuracy._seeds_mean(tmp_path, "reactnet", 1.0)
    text = "\n".join(lines)
    assert lines[0] == "## Long schedule: reactnet w1, mean over seeds"
    assert "seeds 0, 1 " in text  # the unfinished seed 2 and the other schedule's seed 3 left out
    assert "| lab | 91.90 % | 92.30 % | 92.10 ± 0.28 % |" in text
    assert "- LAB >= 92.0 % (means): met (92.10 %)" in text
    assert "- LAB - sign >= +1.0 point (means): met (+1.20)" in text
    assert "- DyBNN - sign >= +0.5 point (means): met (+0.55)" in text
    _run(tmp_path, "accuracy_long_reactnet_w1_s1.json", 1, {"sign": 91.2, "lab": 91.9, "dybnn": 91.5})
    text = "\n".join(accuracy._seeds_mean(tmp_path, "reactnet", 1.0))
    assert "- LAB >= 92.0 % (means): NOT met (91.90 %)" in text
    assert "- DyBNN - sign >= +0.5 point (means): NOT met (+0.35)" in text
    # another width's files are not this network's seeds
    assert accuracy._seeds_mean(tmp_path, "reactnet", 0.5) is None
