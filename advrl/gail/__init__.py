"""Adversarial imitation: demonstrations, GAIL's discriminator and trainer, ASAF, behaviour cloning."""

from advrl.gail.asaf import ASAF, asaf_logits, asaf_loss, cut
from advrl.gail.augment import DiffAugment
from advrl.gail.bc import behaviour_clone
from advrl.gail.demo_files import load_demos, read_advrl_npz, read_imitation_npz, save_demos
from advrl.gail.demos import DemoError, Demonstrations, Transitions
from advrl.gail.discriminator import (
    REWARD_FORMS,
    Discriminator,
    discriminator_loss,
    gradient_penalty,
    reward_from_logits,
)
from advrl.gail.gail import GAIL
from advrl.gail.record import record_demos
from advrl.gail.reward_env import DiscriminatorReward

__all__ = [
    "ASAF",
    "GAIL",
    "REWARD_FORMS",
    "DemoError",
    "Demonstrations",
    "DiffAugment",
    "Discriminator",
    "DiscriminatorReward",
    "Transitions",
    "asaf_logits",
    "asaf_loss",
    "behaviour_clone",
    "cut",
    "discriminator_loss",
    "gradient_penalty",
    "load_demos",
    "read_advrl_npz",
    "read_imitation_npz",
    "record_demos",
    "reward_from_logits",
    "save_demos",
]
