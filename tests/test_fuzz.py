"""Property-based fuzzing of everything that reads user input: the level text parser, the config
loader and the demonstration loaders give a valid object or their one clear error type, never
another exception, and quickly."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from advrl import config as cfg
from advrl.envs.level import LevelError, MazeLevel, levels_from_text
from advrl.gail import DemoError, Demonstrations, load_demos

FUZZ = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
SECONDS = 2.0
"""The most one input may take (a hang or an explosion shows here)."""

LEVEL_CHARS = st.sampled_from([*"#.G>v<^ ;x\n\t", "\u00e9", "\r"])


@FUZZ
@given(st.text(LEVEL_CHARS, max_size=300) | st.text(max_size=100))
def test_level_text_parses_or_names_its_problem(text: str) -> None:
    start = time.perf_counter()
    try:
        levels = levels_from_text(text)
    except LevelError:
        pass
    else:
        assert levels and all(isinstance(level, MazeLevel) for level in levels)
        for level in levels:  # what it parses, it writes back the same
            assert MazeLevel.from_text(level.to_text()) == level
    assert time.perf_counter() - start < SECONDS


SCHEMA_KEYS = [
    "env", "ppo", "policy", "train", "adversarial", "teacher", "method", "protagonist",
    "antagonist", "adversary", "demos", "discriminator", "asaf", "init", "id", "kwargs",
    "n_envs", "num_levels", "learning_rate", "n_steps", "batch_size", "gamma", "net_arch",
    "lstm_hidden", "total_timesteps", "seed", "eval_every", "eval_levels", "eps", "views",
    "regret", "replay_prob", "num_edits", "window", "backend", "name", "out_dir", "paired",
    "plr", "accel", "unknown",
]  # fmt: skip
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(-(10**12), 10**12)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=20)
    | st.sampled_from(["paired", "dr", "plr", "accel", "minimax", "gail", "asaf", "nan", "1e-3"])
)
VALUES = st.recursive(
    SCALARS,
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(st.sampled_from(SCHEMA_KEYS), children, max_size=5)
    ),
    max_leaves=30,
)


@FUZZ
@given(
    st.dictionaries(st.sampled_from(SCHEMA_KEYS), VALUES, max_size=6),
    st.sampled_from([cfg.PPORunConfig, cfg.UEDRunConfig, cfg.GAILRunConfig, cfg.ASAFRunConfig]),
)
def test_config_data_loads_or_names_its_problem(data: dict[str, Any], cls: type) -> None:
    start = time.perf_counter()
    try:
        config = cfg.from_dict(cls, data)
    except cfg.ConfigError:
        pass
    else:
        assert isinstance(config, cls)
    assert time.perf_counter() - start < SECONDS


@FUZZ
@given(st.text(max_size=300) | st.binary(max_size=300).map(lambda b: b.decode("latin-1")))
def test_config_files_load_or_name_their_problem(tmp_path_factory: Any, text: str) -> None:
    path = Path(tmp_path_factory.mktemp("fuzz")) / "c.yaml"
    path.write_bytes(text.encode("utf-8", errors="surrogatepass"))
    start = time.perf_counter()
    try:
        cfg.load_config(cfg.PPORunConfig, path)
    except cfg.ConfigError:
        pass
    assert time.perf_counter() - start < SECONDS


def arrays(max_rows: int = 6) -> st.SearchStrategy[np.ndarray]:
    shapes = st.lists(st.integers(0, max_rows), min_size=0, max_size=3).map(tuple)
    dtypes = st.sampled_from([np.float32, np.float64, np.int64, np.uint8, np.bool_])

    def build(shape: tuple[int, ...], dtype: Any, fill: float) -> np.ndarray:
        with np.errstate(invalid="ignore"):
            return np.full(shape, fill).astype(dtype)

    return st.builds(
        build,
        shapes,
        dtypes,
        st.sampled_from([0, 1, -1, 2.5, np.nan, np.inf]),
    )


DEMO_FIELDS = [
    "obs", "acts", "rews", "lengths", "terminated", "truncated", "expert_return",
    "random_return", "indices", "terminal", "obs.image", "obs.direction", "format", "env_id",
]  # fmt: skip


@FUZZ
@given(st.dictionaries(st.sampled_from(DEMO_FIELDS), arrays(), max_size=9))
def test_demo_files_load_or_name_their_problem(
    tmp_path_factory: Any, fields: dict[str, np.ndarray]
) -> None:
    path = Path(tmp_path_factory.mktemp("fuzz")) / "d.npz"
    np.savez(path, **fields)
    start = time.perf_counter()
    try:
        demos = load_demos(path)
    except DemoError:
        pass
    else:
        assert isinstance(demos, Demonstrations) and demos.num_transitions >= 1
    assert time.perf_counter() - start < SECONDS


def test_a_yaml_alias_bomb_is_refused_quickly(tmp_path: Path) -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 9)]
    lines.append("env: {kwargs: {bomb: *a8}}")
    path = tmp_path / "bomb.yaml"
    path.write_text("\n".join(lines))
    assert len(yaml.safe_load(path.read_text())["a2"]) == 10  # shared, not yet expanded
    start = time.perf_counter()
    try:
        cfg.load_config(cfg.PPORunConfig, path)
    except cfg.ConfigError as err:
        assert "aliases are expanded" in str(err)
    else:
        raise AssertionError("a config of 10^9 values loaded")
    assert time.perf_counter() - start < SECONDS
