from pathlib import Path

import pytest
import yaml

from fincorpus.config import Config, load_config
from fincorpus.errors import UserError

from conftest import REPO


def test_config_yaml_holds_exactly_the_model_defaults():
    shipped = yaml.safe_load((REPO / "config.yaml").read_text(encoding="utf-8"))
    assert Config.model_validate(shipped) == Config()
    assert shipped == Config().model_dump(mode="json"), "config.yaml must list every key with its default"


def test_no_path_gives_defaults():
    assert load_config(None) == Config()


def test_partial_file_overrides_only_its_keys(tmp_path: Path):
    path = tmp_path / "c.yaml"
    path.write_text("dedup:\n  containment_threshold: 0.9\n", encoding="utf-8")
    config = load_config(path)
    assert config.dedup.containment_threshold == 0.9
    assert config.dedup.shingle_size == 5


def test_misspelt_key_is_one_clear_line(tmp_path: Path):
    path = tmp_path / "c.yaml"
    path.write_text("dedup:\n  shingle_sise: 4\n", encoding="utf-8")
    with pytest.raises(UserError) as raised:
        load_config(path)
    message = str(raised.value)
    assert "unknown key 'dedup.shingle_sise'" in message
    assert "\n" not in message


def test_wrong_type_names_the_key(tmp_path: Path):
    path = tmp_path / "c.yaml"
    path.write_text("cleaning:\n  ftfy: sometimes\n", encoding="utf-8")
    with pytest.raises(UserError, match="cleaning.ftfy"):
        load_config(path)


def test_missing_file_and_bad_yaml_are_user_errors(tmp_path: Path):
    with pytest.raises(UserError, match="config file not found"):
        load_config(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("dedup: [unclosed\n", encoding="utf-8")
    with pytest.raises(UserError, match="not valid YAML"):
        load_config(bad)
