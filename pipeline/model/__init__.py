"""The paper's fusion encoder (Fig. 5, Table 2): CNN branch + ViT branch + projector."""
from pipeline.model.encoder import FusionEncoder, build_encoder

__all__ = ["FusionEncoder", "build_encoder"]
