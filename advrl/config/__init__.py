"""Run settings: one frozen dataclass per run kind, built from the library's own settings.

A run's settings group the library's dataclasses by role (env, each agent's PPO and policy, the UED
teacher, imitation, adversarial training, the train loop). A YAML file is their serialized form;
the CLI's flags and ``--help`` are generated from the same classes (every field's docstring is its
help). Unknown keys and bad values stop with one :class:`ConfigError` that names the key.
Method-specific sections are tagged unions: a UED run's ``teacher:`` section is the settings of the
method its ``method:`` names (:data:`advrl.pair.methods.TEACHERS`); an imitation run's settings are
its method's class (``discriminator:`` for GAIL, ``asaf:`` for ASAF).

Only the CLI reads files; library classes take these settings or keyword arguments.

The package holds the schemas (:mod:`~advrl.config.schemas`), their serialized form and the one
merge of file, ``--set`` and flags (:mod:`~advrl.config.codec`), older run folders' layouts
(:mod:`~advrl.config.migration`) and the import policy (:mod:`~advrl.config.import_policy`).
"""

from advrl.checks import ConfigError
from advrl.config.codec import (
    MAX_CONFIG_VALUES,
    apply_override,
    config_from,
    flat_dict,
    from_dict,
    load_config,
    merge_layers,
    read_yaml,
    save_config,
    to_dict,
)
from advrl.config.import_policy import check_env_import
from advrl.config.migration import RUN_PLACE, load_run_config, upgrade_run_config
from advrl.config.schemas import (
    DEFAULT_EVAL_LEVELS,
    MAX_ROLLOUT,
    MAX_SAMPLED_EPISODES,
    MAX_SEED,
    ASAFRunConfig,
    DemosSettings,
    GAILRunConfig,
    ImitationRunConfig,
    ImitationTrainSettings,
    InitSettings,
    PPORunConfig,
    PPOTrainSettings,
    RunConfig,
    TrainSettings,
    UEDRunConfig,
    UEDTrainSettings,
    check_rollout_size,
    imitation_run_config,
    teacher_settings,
)
from advrl.envs.vector import EnvSettings, UEDEnvSettings

__all__ = [
    "DEFAULT_EVAL_LEVELS",
    "MAX_CONFIG_VALUES",
    "MAX_ROLLOUT",
    "MAX_SAMPLED_EPISODES",
    "MAX_SEED",
    "RUN_PLACE",
    "ASAFRunConfig",
    "ConfigError",
    "DemosSettings",
    "EnvSettings",
    "GAILRunConfig",
    "ImitationRunConfig",
    "ImitationTrainSettings",
    "InitSettings",
    "PPORunConfig",
    "PPOTrainSettings",
    "RunConfig",
    "TrainSettings",
    "UEDEnvSettings",
    "UEDRunConfig",
    "UEDTrainSettings",
    "apply_override",
    "check_env_import",
    "check_rollout_size",
    "config_from",
    "flat_dict",
    "from_dict",
    "imitation_run_config",
    "load_config",
    "load_run_config",
    "merge_layers",
    "read_yaml",
    "save_config",
    "teacher_settings",
    "to_dict",
    "upgrade_run_config",
]
