"""MultiLN Swin-Unet: per-sample domain-routed LayerNorms on a timm Swin-Unet (DESIGN §3)."""

from MLNNetLib.model.builder import ARCHITECTURES, build_model
from MLNNetLib.model.configs import CONFIGS, ModelConfig, get_config
from MLNNetLib.model.domain_norm import DomainContext, DomainLayerNorm, domain_norms
from MLNNetLib.model.pretrained import load_swin_pretrained
from MLNNetLib.model.swin_unet import SwinUnet, count_parameters, norm_parameter_count

__all__ = [
    "ARCHITECTURES", "CONFIGS", "DomainContext", "DomainLayerNorm", "ModelConfig", "SwinUnet", "build_model",
    "count_parameters", "domain_norms", "get_config", "load_swin_pretrained", "norm_parameter_count",
]
