"""``advrl train <method>`` and ``advrl expert train``: a run's settings from a config file, ``--set``
overrides and typed flags (``--help`` lists every key); one result line per run."""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import io
import json
import math
from typing import Any, TypeVar

import yaml

from advrl.agents.robust import ROBUST_TERMS, AdversarialTraining, term_settings
from advrl.checks import ConfigError
from advrl.cli.arguments import UserError, add_allow_import
from advrl.config import (
    ImitationRunConfig,
    PPORunConfig,
    UEDRunConfig,
    check_env_import,
    load_config,
    merge_layers,
    read_yaml,
    teacher_settings,
    to_dict,
)
from advrl.yamlio import load_yaml

C = TypeVar("C", PPORunConfig, UEDRunConfig[Any], ImitationRunConfig)


TRAIN_OPTIONS = """Every setting, with its value for this run: from --config FILE (or the run being
resumed), then --set KEY=VALUE overrides (YAML values, repeatable), then these flags."""


def _yaml_mapping(text: str) -> dict[str, Any]:
    try:
        value = load_yaml(text, "the value")
    except ConfigError as err:  # tyro reports a ValueError as the flag's own error
        raise ValueError(str(err)) from None
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ValueError(f"expected a YAML mapping such as '{{size: 9}}', got {text!r}")
    return value


def _cli_types() -> Any:
    """tyro's constructors for the settings' types it has no flag for: a mapping is one YAML
    argument (``--env.kwargs '{size: 9}'``)."""
    import tyro

    registry = tyro.constructors.ConstructorRegistry()

    @registry.primitive_rule
    def mapping(info: Any) -> Any:
        if info.type_origin is not dict:
            return None
        return tyro.constructors.PrimitiveConstructorSpec(
            nargs=1,
            metavar="YAML",
            instance_from_str=lambda args: _yaml_mapping(args[0]),
            is_instance=lambda value: isinstance(value, dict),
            str_from_instance=lambda value: [
                yaml.safe_dump(value, default_flow_style=True).strip()
            ],
        )

    return registry


def _first_line(text: str) -> str:
    """The first paragraph of a framed tyro message, on one line, without its frame."""
    words: list[str] = []
    for line in text.splitlines()[1:]:  # the first is the frame's top, with the title
        body = line.strip().strip("│╭╮╰╯").strip()
        if not body or body.startswith("─"):
            if words:
                break
            continue
        words.append(body)
    return " ".join(words) or "the flags could not be read"


def _without_markup(screen: str) -> str:
    """A help screen without the docstrings' reST literals (````x````: ``x``), each framed line
    padded back to its frame's width."""
    lines = []
    for line in screen.splitlines(keepends=True):
        marks = line.count("``")
        if marks:
            line = line.replace("``", "")
            end = line.rstrip().rfind("│")
            if end > 0 and line.rstrip().endswith("│"):
                line = line[:end] + " " * (2 * marks) + line[end:]
        lines.append(line)
    return "".join(lines)


class _Screen(io.StringIO):
    """A captured help screen, UTF-8 as the terminal's (tyro draws its frames by the encoding)."""

    encoding = "utf-8"


def _run_config(args: argparse.Namespace, cls: type[C]) -> C:
    """The settings of ``advrl train <method>``: from ``--config`` or the run being resumed, then
    ``--set`` overrides, then the typed flags (``--ppo.learning_rate 1e-3``), merged once and
    loaded once (:func:`~advrl.runners.kinds.resolve_settings`); ``--help`` lists every key of
    the method's settings with its type, its value for this run and its doc line."""
    from advrl.runners.kinds import resolve_settings

    method = getattr(args, "method", "ppo")
    if not (args.resume or args.config or args.help):
        example = "ppo-maze" if method == "ppo" else f"{method}-maze"
        raise UserError(f"give --config FILE (e.g. configs/{example}.yaml) or --resume RUN")
    if args.resume and args.config:
        raise UserError(
            "--config and --resume together: a resumed run goes on with its own config.yaml; "
            "change a setting with --set KEY=VALUE"
        )
    flags = []
    if args.flags and not args.help:
        flags = _flag_items(method, cls, args.flags, _adversarial_method(args, cls))
    config = resolve_settings(
        method,
        config=args.config,
        resume=args.resume,
        overrides=args.set,
        allow_import=args.allow_import,
        flags=flags,
    )
    if args.help:
        print(args.help_text())  # the command's own options first, then every setting
        adversarial = getattr(config, "adversarial", None)
        _tyro(method, cls, config, ["--help"], adversarial.method if adversarial else "none")
    return config


def _schema(method: str, cls: type, adversarial: str = "none") -> Any:
    """The settings class tyro reads: a UED run's with its method's teacher settings, a PPO
    run's with the settings of its adversarial method's term."""
    if cls is UEDRunConfig:
        return UEDRunConfig[teacher_settings(method)]  # type: ignore[misc]
    if cls is PPORunConfig:
        return PPORunConfig[term_settings(adversarial)]  # type: ignore[misc]
    return cls


def _adversarial_method(args: argparse.Namespace, cls: type) -> str:
    """The ``adversarial.method`` a PPO run is given, for the schema of its typed flags (its
    term's flags, ``--adversarial.term.coef``): the last one the flags, ``--set`` or the file
    (or the resumed run's ``config.yaml``) name, read without loading the settings (the loader
    checks it). ``none`` for other runs, or where it names no method."""
    if cls is not PPORunConfig:
        return "none"
    named: Any = None
    source = args.config or (f"{args.resume}/config.yaml" if args.resume else None)
    with contextlib.suppress(ConfigError):  # the file and --set, merged as the loader will
        merged = merge_layers(cls, read_yaml(source) if source else {}, args.set or [])
        section = merged.get("adversarial")
        named = section.get("method") if isinstance(section, dict) else None
    for i, token in enumerate(args.flags):  # the flags come last
        if token == "--adversarial.method" and i + 1 < len(args.flags):
            named = args.flags[i + 1]
        elif token.startswith("--adversarial.method="):
            named = token.partition("=")[2]
    if not isinstance(named, str) or (named != "none" and named not in ROBUST_TERMS):
        return "none"
    return named


def _tyro(method: str, cls: type, default: Any, argv: list[str], adversarial: str = "none") -> Any:
    """tyro's parse of ``argv`` against the settings (``default`` their values): the typed
    flags' syntax and types, or the ``--help`` screen (printed, then ``SystemExit``)."""
    import tyro

    errors, shown = io.StringIO(), _Screen()
    try:
        with contextlib.redirect_stderr(errors), contextlib.redirect_stdout(shown):
            return tyro.cli(
                _schema(method, cls, adversarial),
                default=default,
                registry=_cli_types(),
                args=argv,
                prog=f"advrl train {method}",
                description=f"{(cls.__doc__ or '').splitlines()[0]}\n\n{TRAIN_OPTIONS}",
                use_underscores=True,
            )
    except SystemExit as exit_:
        if not exit_.code:
            print(_without_markup(shown.getvalue()), end="")
            raise
        raise UserError(
            f"{_first_line(errors.getvalue())}; see advrl train {method} --help"
        ) from None


def _flag_items(method: str, cls: type, flags: list[str], adversarial: str = "none") -> list[str]:
    """The typed flags as ``key=value`` items (the form of ``--set``), for the one merge of the
    settings: tyro parses them against the settings' defaults (their syntax and types), and each
    key a flag names takes its parsed value."""
    schema = _schema(method, cls, adversarial)
    if cls is UEDRunConfig:
        defaults = schema(method=method, teacher=teacher_settings(method)())
    elif cls is PPORunConfig:
        defaults = schema(adversarial=AdversarialTraining(method=adversarial))
    elif "method" in {f.name for f in dataclasses.fields(schema)}:
        defaults = schema(method=method)
    else:
        defaults = schema()
    parsed = _tyro(method, cls, defaults, flags, adversarial)
    items = []
    for key in _flag_keys(flags, parsed):
        value: Any = parsed
        for part in key.split("."):
            value = getattr(value, part)
        items.append(f"{key}={_yaml_value(value)}")
    return items


def _flag_keys(flags: list[str], parsed: Any) -> list[str]:
    """The dotted keys the flags name (``--train.progress_bar``, ``--train.no_progress_bar``,
    ``--ppo.gamma=0.99``), in order."""
    keys: list[str] = []
    for token in flags:
        if not token.startswith("--"):
            continue
        parts = token[2:].split("=", 1)[0].split(".")
        node: Any = parsed
        for part in parts[:-1]:
            node = getattr(node, part, None)
        last = parts[-1]
        if not hasattr(node, last) and last.startswith("no_") and hasattr(node, last[3:]):
            last = last[3:]  # a boolean's negative flag
        key = ".".join([*parts[:-1], last])
        if hasattr(node, last) and key not in keys:
            keys.append(key)
    return keys


def _yaml_value(value: Any) -> str:
    """A parsed flag's value as the YAML text of ``--set`` (JSON is YAML's flow form)."""
    if isinstance(value, float) and not math.isfinite(value):
        return ".nan" if math.isnan(value) else (".inf" if value > 0 else "-.inf")

    def plain(x: Any) -> Any:
        if dataclasses.is_dataclass(x) and not isinstance(x, type):
            return to_dict(x)
        if isinstance(x, dict):
            return {k: plain(v) for k, v in x.items()}
        if isinstance(x, (list, tuple)):
            return [plain(v) for v in x]
        return x

    return json.dumps(plain(value))


def _ppo_result(summary: dict[str, Any]) -> str:
    ev = summary["eval"]
    policy, greedy, random = ev["policy"], ev["policy_deterministic"], ev["random"]
    out = (
        f"return {policy['mean_return']:.3f} (greedy {greedy['mean_return']:.3f}, random "
        f"{random['mean_return']:.3f})"
    )
    if "success_rate" not in policy:  # the env does not say what success is
        return out
    return (
        f"success {policy['success_rate']:.2f} (greedy {greedy['success_rate']:.2f}, random "
        f"{random['success_rate']:.2f}), {out}"
    )


def _ued_result(summary: dict[str, Any]) -> str:
    regret = summary["last"].get("ued/regret")
    out = f"{summary['student_steps_per_s']} steps/s of both students"
    out += f", regret {regret:.3f}; " if regret is not None else "; "
    if not summary["held_out"]:  # a physics env: its standard level
        return out + (
            f"return on the standard level {summary['mean_return']:.1f} "
            f"(greedy {summary['mean_return_greedy']:.1f})"
        )
    return out + (
        f"held-out solve rate {summary['mean_solve_rate']:.2f} (greedy "
        f"{summary['mean_solve_rate_greedy']:.2f}; random policy "
        f"{summary['mean_solve_rate_random']:.2f})"
    )


def _imitation_result(summary: dict[str, Any]) -> str:
    ev = summary["eval"]

    def score(result: dict[str, Any]) -> str:
        value = result.get("normalized_score")
        return f", normalized score {value:.2f}" if value is not None else ""

    policy, greedy = ev["policy"], ev["policy_deterministic"]
    return (
        f"{summary['variant']} on {summary['env']} from {summary['demo_episodes']} expert "
        f"episodes; return "
        f"{policy['mean_return']:.1f}{score(policy)} (greedy {greedy['mean_return']:.1f}"
        f"{score(greedy)}; expert {ev['expert_return']:.1f}, random {ev['random_return']:.1f})"
    )


def _steps_taken(summary: dict[str, Any], unit: str = "steps") -> str:
    """The steps a command took and its seconds: a resumed run's since the step it resumed
    from (its seconds are that part's)."""
    done, start = int(summary["timesteps"]), summary.get("resumed_from")
    if start is None:
        return f"{done:,} {unit} in {summary['wall_clock_s']} s"
    return (
        f"{done - int(start):,} {unit} (from step {int(start):,} to {done:,}) in "
        f"{summary['wall_clock_s']} s"
    )


def cmd_train(args: argparse.Namespace) -> int:
    """Train any method from its settings (or resume a run); print one line, or the summary."""
    from advrl.runners.kinds import run_kind

    kind = run_kind(args.method)
    result = {"ued": _ued_result, "imitation": _imitation_result, "ppo": _ppo_result}[kind.family]
    summary: dict[str, Any] = kind.train(_run_config(args, kind.settings), resume=args.resume)
    unit = "protagonist steps" if kind.family == "ued" else "steps"
    print(
        f"run {summary['run']}: {summary['method']}, {_steps_taken(summary, unit)}; {result(summary)}"
    )
    if args.json:
        print(json.dumps(summary, indent=2))
    return 0


def cmd_expert_train(args: argparse.Namespace) -> int:
    """Train an SB3 PPO expert on any env (``advrl train ppo`` with the env set)."""
    from advrl.runners import train_ppo
    from advrl.runs import RunDir

    overrides = list(args.set)
    if args.env:
        overrides.insert(0, f"env.id={json.dumps(args.env)}")
    if not (args.config or args.env):
        raise UserError("give --env ID (and optionally --config FILE), e.g. --env CartPole-v1")
    config = load_config(PPORunConfig, args.config, overrides)
    source = "--env" if args.env else (args.config or "--set")
    check_env_import(config.env.id, args.allow_import, source, "command")
    if config.name is None:
        name = RunDir.default_name(config.env.id, "expert", config.train.seed)
        config = dataclasses.replace(config, name=name)
    summary = train_ppo(config)
    ev = summary["eval"]
    print(
        f"expert {summary['run']}: {_steps_taken(summary)}; "
        f"return {ev['policy']['mean_return']:.1f} (greedy "
        f"{ev['policy_deterministic']['mean_return']:.1f}, random {ev['random']['mean_return']:.1f})"
    )
    print(
        f"record demos: advrl demos record --model {summary['run']} --episodes 10 --out demos.npz"
    )
    return 0


def add_parsers(
    sub: argparse._SubParsersAction[argparse.ArgumentParser], shown: argparse.ArgumentParser
) -> None:
    """Add this module's commands to ``advrl``'s subcommands (``shown``: the output options of
    long commands)."""
    from advrl.runners.kinds import run_kinds

    p_train = sub.add_parser("train", help="train an agent")
    train_sub = p_train.add_subparsers(dest="method", required=True)
    for method, kind in run_kinds().items():
        p_method = train_sub.add_parser(
            method, help=kind.help, add_help=False, allow_abbrev=False, parents=[shown]
        )
        p_method.add_argument("-h", "--help", action="store_true", help="list every setting")
        p_method.add_argument("--config", help=f"YAML config (e.g. configs/{method}-maze.yaml)")
        p_method.add_argument("--resume", help="run folder to continue from its latest checkpoint")
        p_method.add_argument(
            "--set",
            action="append",
            default=[],
            metavar="KEY=VALUE",
            help="override a setting, e.g. --set train.total_timesteps=10000 (repeatable)",
        )
        p_method.add_argument("--json", action="store_true", help="print the whole summary as JSON")
        add_allow_import(p_method)
        p_method.set_defaults(
            func=cmd_train, method=method, flags=[], help_text=p_method.format_help
        )

    p_expert = sub.add_parser("expert", help="train experts to record demonstrations from")
    expert_sub = p_expert.add_subparsers(dest="expert_command", required=True)
    p_et = expert_sub.add_parser(
        "train", help="SB3 PPO expert on any Gymnasium env", parents=[shown]
    )
    p_et.add_argument("--env", help="Gymnasium id (e.g. CartPole-v1, advrl/Maze-Small-v0)")
    p_et.add_argument("--config", help="PPO config (e.g. configs/expert-cartpole.yaml)")
    p_et.add_argument(
        "--set", action="append", default=[], metavar="KEY=VALUE", help="override a value"
    )
    add_allow_import(p_et)
    p_et.set_defaults(func=cmd_expert_train)
