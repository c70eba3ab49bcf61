"""Configuration: defaults, ``BANSCAN_*`` overrides, and errors that name the key and its source."""

import typing
from pathlib import Path
from typing import Any

import annotated_types
import pytest

from node.config import (
    CONFIG_FILE,
    Config,
    ConfigError,
    config_keys,
    load_config,
)
from node.configtemplate import config_template
from node.datadir import DataDir
from tests.factories import seeded_key
from tests.nodeproc import banscan

STEWARD_A = seeded_key("steward a").text
STEWARD_B = seeded_key("steward b").text


def env_var(section: str, key: str) -> str:
    """The documented variable name, spelled out here rather than taken from the code."""
    return f"BANSCAN_{section.upper()}_{key.upper()}"


def setting(config: Config, section: str, key: str) -> Any:
    return getattr(getattr(config, section), key)


# Keys whose values need a shape the type alone does not give.
SAMPLES: dict[tuple[str, str], tuple[str, Any]] = {
    ("node", "name"): ("NYC chapter", "NYC chapter"),
    ("node", "city"): ("New York", "New York"),
    ("node", "country"): ("US", "US"),
    ("node", "urls"): (
        "https://a.example.org, https://b.example.org",
        ["https://a.example.org", "https://b.example.org"],
    ),
    ("site", "basemap"): ("pmtiles:city.pmtiles", "pmtiles:city.pmtiles"),
    ("site", "embed_origins"): (
        "https://partner.example, http://127.0.0.1:8080",
        ["https://partner.example", "http://127.0.0.1:8080"],
    ),
}
# Keys holding tables, which only the file can set.
FILE_ONLY = {("site", "about"), ("site", "privacy"), ("site", "actions")}


def sample_override(section: str, key: str) -> tuple[str, Any]:
    """A valid value other than the default, as environment text and as loaded.

    Derived from the field's type, so a key added later is exercised without
    editing this test; a type it cannot handle fails loudly instead.
    """
    if (section, key) in SAMPLES:
        return SAMPLES[section, key]
    section_model = Config.model_fields[section].annotation
    assert section_model is not None
    field = section_model.model_fields[key]
    default = field.get_default(call_default_factory=True)
    annotation = field.annotation
    if typing.get_origin(annotation) is typing.Literal:
        choice = next(c for c in typing.get_args(annotation) if c != default)
        return str(choice), choice
    if typing.get_origin(annotation) is list:
        return f"{STEWARD_A}, {STEWARD_B}", [STEWARD_A, STEWARD_B]
    if annotation is int:
        value = default + 1
        for bound in field.metadata:
            if isinstance(bound, annotated_types.Le) and isinstance(bound.le, int):
                value = value if value <= bound.le else default - 1
        return str(value), value
    if annotation is str:
        return default + "x", default + "x"
    if annotation is bool:
        return str(not default).lower(), not default
    pytest.fail(f"no sample value for {section}.{key} ({annotation}); teach sample_override")


def write_config(directory: Path, text: str) -> Path:
    path = directory / CONFIG_FILE
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults_without_a_file_or_environment(tmp_path: Path) -> None:
    config = load_config(tmp_path, {})
    assert config == Config()
    assert config.node.host == "127.0.0.1"
    assert config.node.port == 8470
    assert config.network.id == "banthescan"
    assert config.network.stewards == []
    assert config.storage.synchronous == "full"


def test_the_file_init_writes_holds_the_defaults(tmp_path: Path) -> None:
    write_config(tmp_path, config_template("banthescan", []))
    assert load_config(tmp_path, {}) == Config()


def test_the_file_init_writes_mentions_every_key(tmp_path: Path) -> None:
    text = config_template("banthescan", [])
    for section, key in config_keys():
        assert f"[{section}]" in text
        assert f"\n{key} = " in text, f"{section}.{key} is missing from banscan.toml"


@pytest.mark.parametrize(
    ("section", "key"), [pair for pair in config_keys() if pair not in FILE_ONLY]
)
def test_every_key_is_overridden_by_its_environment_variable(
    tmp_path: Path, section: str, key: str
) -> None:
    write_config(tmp_path, config_template("banthescan", []))
    text, expected = sample_override(section, key)
    config = load_config(tmp_path, {env_var(section, key): text})
    assert setting(config, section, key) == expected
    assert setting(config, section, key) != setting(Config(), section, key)
    # Only that key changed.
    for other_section, other_key in config_keys():
        if (other_section, other_key) != (section, key):
            assert setting(config, other_section, other_key) == setting(
                Config(), other_section, other_key
            )


@pytest.mark.parametrize(("section", "key"), sorted(FILE_ONLY))
def test_a_key_holding_tables_is_refused_from_the_environment(
    tmp_path: Path, section: str, key: str
) -> None:
    with pytest.raises(ConfigError, match=f"{env_var(section, key)}: .* set it in banscan.toml"):
        load_config(tmp_path, {env_var(section, key): "en=text"})


def test_site_texts_and_actions_from_the_file(tmp_path: Path) -> None:
    write_config(
        tmp_path,
        '[site]\nabout = { en = "About us", es = "Sobre nosotros" }\n'
        'actions = [{ title = "Sign", url = "https://campaign.example/sign" }]\n',
    )
    site = load_config(tmp_path, {}).site
    assert site.about == {"en": "About us", "es": "Sobre nosotros"}
    assert [(a.title, a.url) for a in site.actions] == [("Sign", "https://campaign.example/sign")]
    write_config(tmp_path, '[site]\nabout = { english = "About us" }\n')
    with pytest.raises(ConfigError, match=r"site\.about"):
        load_config(tmp_path, {})


def test_environment_wins_over_the_file(tmp_path: Path) -> None:
    write_config(tmp_path, '[node]\nport = 9000\n[network]\nid = "fromfile"\n')
    config = load_config(tmp_path, {"BANSCAN_NODE_PORT": "9100"})
    assert config.node.port == 9100
    assert config.network.id == "fromfile"


def test_list_values_are_comma_separated(tmp_path: Path) -> None:
    config = load_config(tmp_path, {"BANSCAN_NETWORK_STEWARDS": f" {STEWARD_A} ,{STEWARD_B},"})
    assert config.network.stewards == [STEWARD_A, STEWARD_B]
    assert load_config(tmp_path, {"BANSCAN_NETWORK_STEWARDS": ""}).network.stewards == []


def test_other_variables_are_ignored(tmp_path: Path) -> None:
    environ = {"HOME": "/nowhere", "BANSCANNER": "x", "BANSCAN_DATA_DIR": str(tmp_path)}
    assert load_config(tmp_path, environ) == Config()


@pytest.mark.parametrize("name", ["BANSCAN_NODE_PROT", "BANSCAN_PORT", "BANSCAN_NETWORK_ID_EXTRA"])
def test_an_unknown_banscan_variable_is_an_error_naming_it(tmp_path: Path, name: str) -> None:
    with pytest.raises(ConfigError, match=name):
        load_config(tmp_path, {name: "1"})


ENV_ERRORS = [
    ({"BANSCAN_NODE_PORT": "70000"}, "node.port"),
    ({"BANSCAN_NODE_PORT": "eighty"}, "node.port"),
    ({"BANSCAN_NETWORK_ID": "BanTheScan"}, "network.id"),
    ({"BANSCAN_NETWORK_STEWARDS": f"{STEWARD_A},ed25519:nope"}, "network.stewards"),
    ({"BANSCAN_STORAGE_SYNCHRONOUS": "off"}, "storage.synchronous"),
    ({"BANSCAN_LOG_LEVEL": "loud"}, "log.level"),
]


@pytest.mark.parametrize(("environ", "key_path"), ENV_ERRORS)
def test_a_bad_environment_value_names_the_key_and_the_variable(
    tmp_path: Path, environ: dict[str, str], key_path: str
) -> None:
    write_config(tmp_path, config_template("banthescan", []))
    with pytest.raises(ConfigError) as caught:
        load_config(tmp_path, environ)
    message = str(caught.value)
    assert key_path in message
    assert next(iter(environ)) in message
    assert CONFIG_FILE not in message


FILE_ERRORS = [
    ("[node]\nport = 70000\n", "node.port"),
    ('[network]\nid = "BanTheScan"\n', "network.id"),
    ('[network]\nstewards = ["ed25519:nope"]\n', "network.stewards"),
    ("[node]\nprot = 8000\n", "node.prot"),
    ("[limits]\nmax_batch_records = 0\n", "limits.max_batch_records"),
]


@pytest.mark.parametrize(("text", "key_path"), FILE_ERRORS)
def test_a_bad_file_value_names_the_key_and_the_file(
    tmp_path: Path, text: str, key_path: str
) -> None:
    path = write_config(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        # A valid override of another key must not be blamed.
        load_config(tmp_path, {"BANSCAN_LOG_LEVEL": "debug"})
    message = str(caught.value)
    assert key_path in message
    assert str(path) in message
    assert "BANSCAN_LOG_LEVEL" not in message


def test_bad_toml_names_the_file(tmp_path: Path) -> None:
    path = write_config(tmp_path, "[node\nport = 1\n")
    with pytest.raises(ConfigError, match="not valid TOML") as caught:
        load_config(tmp_path, {})
    assert str(path) in str(caught.value)


@pytest.fixture
def node_dir(tmp_path: Path) -> Path:
    directory = tmp_path / "node"
    DataDir(directory).init("banthescan", [])
    return directory


def test_run_with_a_bad_environment_value_exits_2_naming_the_key(node_dir: Path) -> None:
    result = banscan("run", "--data-dir", str(node_dir), env={"BANSCAN_NODE_PORT": "70000"})
    assert result.returncode == 2
    assert "node.port" in result.stderr
    assert "BANSCAN_NODE_PORT" in result.stderr
    assert "Traceback" not in result.stderr
    assert "serving" not in result.stdout


def test_run_with_a_bad_file_exits_2_naming_the_key(node_dir: Path) -> None:
    config_file = node_dir / CONFIG_FILE
    text = config_file.read_text(encoding="utf-8").replace('id = "banthescan"', 'id = "Ban"')
    config_file.write_text(text, encoding="utf-8")
    result = banscan("run", "--data-dir", str(node_dir))
    assert result.returncode == 2
    assert "network.id" in result.stderr
    assert str(config_file) in result.stderr
    assert "Traceback" not in result.stderr


def test_run_with_an_unknown_variable_exits_2_naming_it(node_dir: Path) -> None:
    result = banscan("run", "--data-dir", str(node_dir), env={"BANSCAN_NODE_PROT": "1"})
    assert result.returncode == 2
    assert "BANSCAN_NODE_PROT" in result.stderr
    assert "Traceback" not in result.stderr
