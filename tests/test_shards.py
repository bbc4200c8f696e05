import shutil

import pytest

from ie_env.data.shards import ShardError, shard_files
from ie_env.paths import DataMissingError, data_dir


def test_hash_mismatch_names_the_file(tmp_path):
    src = data_dir()
    shutil.copy(src / "cifar10-test-000.tar.gz", tmp_path)
    (tmp_path / "SHA256SUMS").write_text("0" * 64 + "  cifar10-test-000.tar.gz\n")
    with pytest.raises(ShardError, match="cifar10-test-000.tar.gz"):
        shard_files("cifar10-test-", tmp_path)


def test_missing_shard_says_how_to_get_it(tmp_path):
    (tmp_path / "SHA256SUMS").write_text("0" * 64 + "  cifar10-test-000.tar.gz\n")
    with pytest.raises(DataMissingError, match="missing.*shared/data"):
        shard_files("cifar10-test-", tmp_path)


def test_missing_data_dir(monkeypatch, tmp_path):
    monkeypatch.setenv("IE_DATA_DIR", str(tmp_path / "none"))
    with pytest.raises(DataMissingError, match="IE_DATA_DIR"):
        data_dir()
