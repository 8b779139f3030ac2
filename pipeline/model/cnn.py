"""CNN branch: ResNet-18 without max-pool and without layer4 (paper Sect. 3.3, Table 2)."""
from __future__ import annotations

import torch
from torch import nn


class BasicBlock(nn.Module):
    """ResNet-18's residual block (He et al. 2016): two 3x3 conv + BN, ReLU, identity shortcut.

    Our own rather than torchvision's: importing torchvision.models costs every torch stage about
    3 s (it pulls in torch._dynamo), which over the pipeline's ~30 torch stages is minutes of the
    offline repro.  Same layers, names and construction order as torchvision's, so the weights,
    their initialisation for a seed, and saved checkpoints are unchanged.
    """

    def __init__(self, in_ch: int, out_ch: int, stride: int = 1, downsample: nn.Module | None = None):
        super().__init__()
        self.conv1 = nn.Conv2d(in_ch, out_ch, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(out_ch)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(out_ch, out_ch, 3, stride=1, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_ch)
        self.downsample = downsample  # the shortcut's 1x1 conv + BN when the shape changes

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        shortcut = x if self.downsample is None else self.downsample(x)
        return self.relu(out + shortcut)


def _stage(in_ch: int, out_ch: int) -> nn.Sequential:
    """Two BasicBlocks; the first halves the resolution (stride 2) as ResNet's layer2/3 do."""
    down = nn.Sequential(nn.Conv2d(in_ch, out_ch, 1, stride=2, bias=False), nn.BatchNorm2d(out_ch))
    return nn.Sequential(BasicBlock(in_ch, out_ch, stride=2, downsample=down), BasicBlock(out_ch, out_ch))


class CNNBranch(nn.Module):
    """conv kxk (stride 1) -> BN -> ReLU -> stages -> global average pool.

    With the paper's widths (stem 64, stages 128, 256; 7x7 conv, padding 1) an 84x84 input
    becomes 80x80, then 40x40 and 20x20, pooled to a 256-d vector.  Table 2 lists no 64-channel
    layer1 blocks after the stem, and its parameter total (4,187,328) only adds up without them.
    """

    def __init__(self, stem_channels: int, stem_kernel: int, stem_padding: int, channels: list[int]):
        super().__init__()
        layers: list[nn.Module] = [
            nn.Conv2d(3, stem_channels, stem_kernel, stride=1, padding=stem_padding, bias=False),
            nn.BatchNorm2d(stem_channels),
            nn.ReLU(inplace=True),
        ]
        prev = stem_channels
        for ch in channels:
            layers.append(_stage(prev, ch))
            prev = ch
        self.features = nn.Sequential(*layers)
        self.out_dim = prev

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, 3, H, W) -> (B, C)
        return self.features(x).mean((2, 3))
