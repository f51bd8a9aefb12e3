"""The actor's and the critic's first layers as one matrix product, with SB3's own parameters."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from stable_baselines3.common.policies import ActorCriticPolicy
from stable_baselines3.common.torch_layers import MlpExtractor
from torch import nn


class FusedMlpExtractor(MlpExtractor):
    """SB3's :class:`MlpExtractor` whose two first layers run as one product.

    When the actor and the critic read the same features, their first ``nn.Linear`` layers are
    applied as one layer with both weights stacked (one pass over the features instead of two,
    forward and backward). The modules and parameters are SB3's (``policy_net``, ``value_net``),
    so state dicts, checkpoints and ``model.zip`` files are unchanged; only :meth:`forward` differs.
    This pays when the features are wide: the maze designer's adversary reads 21,642 of them.
    """

    def first_layer(self) -> tuple[torch.Tensor, torch.Tensor | None] | None:
        """The two first layers' weights and biases, stacked (actor's rows first); None when they
        are not both ``nn.Linear`` with or both without a bias."""
        first_pi, first_vf = self.policy_net[0], self.value_net[0]
        if not isinstance(first_pi, nn.Linear) or not isinstance(first_vf, nn.Linear):
            return None
        weight = torch.cat([first_pi.weight, first_vf.weight])
        if first_pi.bias is not None and first_vf.bias is not None:
            return weight, torch.cat([first_pi.bias, first_vf.bias])
        if first_pi.bias is not None or first_vf.bias is not None:
            return None
        return weight, None

    def after_first_layer(self, both: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(latent_pi, latent_vf)`` from the stacked first layers' output."""
        n_pi = self.policy_net[0].out_features
        return _after_first(self.policy_net, both[:, :n_pi]), _after_first(
            self.value_net, both[:, n_pi:]
        )

    def forward(self, features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(latent_pi, latent_vf)``, as :meth:`MlpExtractor.forward`."""
        first = self.first_layer()
        if first is None:
            return super().forward(features)
        return self.after_first_layer(F.linear(features, *first))


def _after_first(net: nn.Sequential, x: torch.Tensor) -> torch.Tensor:
    """``net[1:](x)``, without building the sliced ``nn.Sequential`` (it is called every step)."""
    for i, layer in enumerate(net):
        if i:
            x = layer(x)
    return x


def fuse_first_layers(policy: ActorCriticPolicy) -> bool:
    """Make ``policy``'s SB3 ``MlpExtractor`` a :class:`FusedMlpExtractor` (the same object, its
    class swapped: the subclass adds no state). Returns whether it did; a policy with another
    extractor, or with separate feature extractors for actor and critic, is left as it is."""
    extractor = getattr(policy, "mlp_extractor", None)
    if type(extractor) is not MlpExtractor or not policy.share_features_extractor:
        return False
    if len(extractor.policy_net) == 0 or len(extractor.value_net) == 0:
        return False
    extractor.__class__ = FusedMlpExtractor
    return True
