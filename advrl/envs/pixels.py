"""Drawing scenes as pixels under a view, for N scenes at once (torch, CPU or GPU).

Rendering has two stages. A scene-specific step draws a **material map** (``long [N, H, W]``:
which material each pixel shows, see :data:`advrl.envs.views.MATERIALS`) from the state alone:
:func:`maze_materials` from the maze's egocentric cell codes, :func:`cartpole_materials` from the
cart's position, the pole's angle and its length. Then :func:`paint` turns materials into colours
under each scene's view (colours, texture, light, camera). Everything a view changes happens in
:func:`paint`, so two views of one state differ only there.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from minigrid.core.constants import OBJECT_TO_IDX

from advrl.envs.views import MATERIALS, VIEW_DIM

WALL, GOAL = OBJECT_TO_IDX["wall"], OBJECT_TO_IDX["goal"]
FLOOR_M, WALL_M, GOAL_M, AGENT_M = range(MATERIALS)
"""The maze's materials: floor (the background), wall, goal, agent."""
BACKGROUND_M, TRACK_M, CART_M, POLE_M = range(MATERIALS)
"""CartPole's materials: background, track, cart, pole."""


def checker(
    height: int, width: int, period: int = 2, device: torch.device | str = "cpu"
) -> torch.Tensor:
    """``float [H, W]``: 1 on the dark squares of a checker of ``period``-pixel squares, else 0."""
    rows = torch.arange(height, device=device).view(-1, 1) // period
    cols = torch.arange(width, device=device).view(1, -1) // period
    return ((rows + cols) % 2).float()


def paint(materials: torch.Tensor, views: torch.Tensor) -> torch.Tensor:
    """Colour material maps under views.

    Args:
        materials: ``long [N, H, W]`` in ``[0, MATERIALS)``.
        views: ``float [N, VIEW_DIM]`` (:meth:`advrl.envs.views.View.vector` per scene).

    Returns:
        ``uint8 [N, H, W, 3]``: each pixel the colour of its material, darkened by the texture's
        checker, times the light (with its left-to-right slope), seen through the camera (shift and
        zoom about the centre, bilinear, edges extended).
    """
    n, h, w = materials.shape
    if views.shape != (n, VIEW_DIM):
        raise ValueError(f"views must be [{n}, {VIEW_DIM}], got {tuple(views.shape)}")
    dev = materials.device
    views = views.to(dev, torch.float32)
    colors = views[:, : 3 * MATERIALS].view(n, MATERIALS, 3).transpose(1, 2)  # [N, 3, M]
    texture, light, slope = views[:, 12], views[:, 13], views[:, 14]
    shift, zoom = views[:, 15:17], views[:, 17]
    index = materials.reshape(n, 1, h * w).expand(n, 3, h * w)
    rgb = colors.gather(2, index).view(n, 3, h, w)  # channels first, as grid_sample wants
    across = torch.linspace(-0.5, 0.5, w, device=dev).view(1, 1, w)
    shade = 1 - texture.view(n, 1, 1) * checker(h, w, device=dev).view(1, h, w)  # [N, H, W]
    shade = shade * light.view(n, 1, 1) * (1 + slope.view(n, 1, 1) * across)
    rgb = rgb * shade.view(n, 1, h, w)
    moved = (shift != 0).any(1) | (zoom != 1)
    if bool(moved.all()):
        rgb = _camera(rgb, shift, zoom)
    elif bool(moved.any()):
        rows = torch.nonzero(moved).squeeze(1)
        rgb[rows] = _camera(rgb[rows], shift[rows], zoom[rows])
    return (rgb.clamp(0, 1) * 255).round().to(torch.uint8).permute(0, 2, 3, 1)


def _camera(rgb: torch.Tensor, shift: torch.Tensor, zoom: torch.Tensor) -> torch.Tensor:
    """Resample ``[k, 3, H, W]`` images as seen by a camera moved by ``shift`` (share of the side;
    the scene moves the other way) and zoomed by ``zoom`` about the centre."""
    k = rgb.shape[0]
    theta = torch.zeros(k, 2, 3, device=rgb.device)
    theta[:, 0, 0] = theta[:, 1, 1] = 1 / zoom
    theta[:, :, 2] = 2 * shift  # normalized coordinates span 2 per image side
    grid = F.affine_grid(theta, [k, 3, rgb.shape[2], rgb.shape[3]], align_corners=False)
    return F.grid_sample(rgb, grid, mode="bilinear", padding_mode="border", align_corners=False)


# ---------------------------------------------------------------------- the maze
def agent_mask(tile: int, device: torch.device | str = "cpu") -> torch.Tensor:
    """``bool [tile, tile]``: a triangle pointing up (away from the viewer), MiniGrid's agent."""
    centre = (torch.arange(tile, device=device).float() + 0.5) / tile  # pixel centres in (0, 1)
    y, x = centre.view(-1, 1), centre.view(1, -1)
    top, bottom = 0.12, 0.88
    half_width = 0.38 * (y - top) / (bottom - top)
    return (y >= top) & (y <= bottom) & ((x - 0.5).abs() <= half_width)


def maze_materials(image: torch.Tensor, tile: int) -> torch.Tensor:
    """The maze's egocentric view as materials.

    Args:
        image: MiniGrid's encoding of the view, ``uint8 [N, v, v, 3]`` indexed ``[x, y]`` (x to
            the agent's right, y away from it; the agent at ``[v // 2, v - 1]``).
        tile: pixels per cell.

    Returns:
        ``long [N, v * tile, v * tile]``, row 0 the farthest row of the view, the agent drawn at
        the bottom middle facing up (the view is egocentric).
    """
    types = image[..., 0].transpose(1, 2).long()  # [N, y, x]
    cells = torch.full_like(types, FLOOR_M)
    cells[types == WALL] = WALL_M
    cells[types == GOAL] = GOAL_M
    v = types.shape[1]
    pixels = cells.repeat_interleave(tile, 1).repeat_interleave(tile, 2)
    own = pixels[:, (v - 1) * tile :, (v // 2) * tile : (v // 2 + 1) * tile]
    own[:, agent_mask(tile, image.device)] = AGENT_M
    return pixels


# ---------------------------------------------------------------------- CartPole
CARTPOLE_HALF_SPAN = 2.9
"""Half the width of the world the CartPole camera sees (the track's 2.4 plus the cart)."""
CART_HALF = (0.25, 0.15)
"""The cart's half-width and half-height (world units)."""
POLE_HALF_WIDTH = 0.06
TRACK_Y = -CART_HALF[1]


def cartpole_materials(
    x: torch.Tensor, theta: torch.Tensor, half_length: torch.Tensor, size: int
) -> torch.Tensor:
    """CartPole scenes as materials.

    Args:
        x: cart positions ``[N]`` (CartPole's ``x``).
        theta: pole angles ``[N]`` (radians, 0 upright, positive to the right).
        half_length: half the pole lengths ``[N]`` (CartPole's ``length``).
        size: side of the square image; the world's ``[-2.9, 2.9]`` spans its width and the track
            lies at three quarters of its height.

    Returns:
        ``long [N, size, size]``: background, track (a line), cart (a box centred on ``x``) and
        pole (a bar of length ``2 * half_length`` from the cart's top), later ones drawn over
        earlier ones.
    """
    dev = x.device
    n = x.shape[0]
    scale = size / (2 * CARTPOLE_HALF_SPAN)  # pixels per world unit
    centre = torch.arange(size, device=dev, dtype=torch.float32) + 0.5
    wx = ((centre - size / 2) / scale).view(1, 1, size)  # world x of each column
    wy = ((0.75 * size - centre) / scale).view(1, size, 1)  # world y of each row
    x, theta, half_length = (
        t.to(dev, torch.float32).view(n, 1, 1) for t in (x, theta, half_length)
    )
    out = torch.full((n, size, size), BACKGROUND_M, dtype=torch.long, device=dev)
    track = (wy - TRACK_Y).abs() <= 0.5 / scale
    out[track.expand(n, size, size)] = TRACK_M
    cart = ((wx - x).abs() <= CART_HALF[0]) & (wy.abs() <= CART_HALF[1])
    out[cart] = CART_M
    # the pole: points within a half-width of the segment from the pivot to the tip
    px, py = x, torch.full_like(x, CART_HALF[1])
    dx, dy = 2 * half_length * torch.sin(theta), 2 * half_length * torch.cos(theta)
    t = (((wx - px) * dx + (wy - py) * dy) / (dx * dx + dy * dy)).clamp(0, 1)
    dist = torch.hypot(wx - px - t * dx, wy - py - t * dy)
    pole = dist <= max(POLE_HALF_WIDTH, 0.6 / scale)
    out[pole] = POLE_M
    return out
