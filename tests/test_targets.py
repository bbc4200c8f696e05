import numpy as np
import pytest

from ie_env.data.ground_truth import mapping_table, relevant_mask
from ie_env.data.targets import TargetError, load_target
from ie_env.data.vocabulary import load_vocabulary
from ie_env.paths import data_dir
from tests.conftest import jpeg


def test_cifar10_splits():
    t = load_target("cifar10")
    assert t.train.shape == (50_000, 32, 32, 3) and t.test.shape == (10_000, 32, 32, 3)
    assert np.bincount(t.test_labels).tolist() == [1000] * 10
    assert t.class_wnids[1] == "n02958343"  # automobile is WordNet's car.n.01


def test_tiny_imagenet_subset_by_ancestor():
    t = load_target("tiny-imagenet:dog.n.01", image_size=16)
    assert len(t.class_names) == 6 and t.train.shape[1:] == (16, 16, 3)
    assert len(t.train) == 6 * 30 and len(t.test) == 6 * 20
    with pytest.raises(TargetError, match="no Tiny ImageNet class"):
        load_target("tiny-imagenet:galaxy.n.01")


def test_cifar10_ground_truth_is_22_tiny_imagenet_classes():
    vocab = load_vocabulary()
    wnids = [line.split("\t")[0] for line in (data_dir() / "tiny-imagenet-200-classes.tsv").read_text().splitlines()]
    t = load_target("cifar10")
    rows = mapping_table(wnids, t.class_names, t.class_wnids, vocab)
    per_class = {c: sum(r["target_class"] == c for r in rows) for c in t.class_names}
    assert len(rows) == 22
    assert per_class == {"airplane": 0, "automobile": 4, "bird": 4, "cat": 4, "deer": 0, "dog": 6, "frog": 2,
                         "horse": 0, "ship": 0, "truck": 2}


def test_relevant_mask_on_tiny_world(tiny_world):
    mask = relevant_mask(tiny_world, load_target("cifar10"), load_vocabulary())
    assert set(tiny_world.wnids[mask]) == {"n02123045", "n04285008", "n02099601"}


def test_image_folder_skips_corrupt_images(tmp_path):
    for cls in ("cat", "dog"):
        (tmp_path / cls).mkdir()
        for i in range(6):
            (tmp_path / cls / f"{i}.jpg").write_bytes(jpeg(i + (10 if cls == "dog" else 0), size=20))
    (tmp_path / "cat" / "broken.jpg").write_bytes(b"not a jpeg")
    t = load_target(f"folder:{tmp_path}", image_size=24)
    assert t.skipped == 1 and len(t.train) + len(t.test) == 12 and t.train.shape[1:] == (24, 24, 3)
    vocab = load_vocabulary()
    assert [vocab.synset_name(w) for w in t.class_wnids] == ["cat.n.01", "dog.n.01"]


@pytest.mark.parametrize("name, match", [("imagenet", "unknown target"), ("folder:", "needs a path"),
                                         ("folder:/does/not/exist", "does not exist")])
def test_bad_targets_are_clear_errors(name, match):
    with pytest.raises(TargetError, match=match):
        load_target(name)


def test_empty_image_folder(tmp_path):
    (tmp_path / "cat").mkdir()
    with pytest.raises(TargetError, match="no readable images"):
        load_target(f"folder:{tmp_path}")
