"""MultiLN Swin-Unet (DESIGN §3) and Pro_UNeXt (seed 002): networks with per-sample domain-routed norms."""

from MLNNetLib.model.builder import ARCHITECTURES, build_model
from MLNNetLib.model.configs import CONFIGS, ModelConfig, config_for_arch, get_config
from MLNNetLib.model.domain_batchnorm import DomainBatchNorm2d
from MLNNetLib.model.domain_norm import DomainContext, DomainLayerNorm, domain_norms
from MLNNetLib.model.pretrained import load_swin_pretrained
from MLNNetLib.model.pro_unext import ProUNeXt
from MLNNetLib.model.pro_unext_config import ProUNeXtConfig
from MLNNetLib.model.swin_unet import SwinUnet, count_parameters, norm_parameter_count

__all__ = [
    "ARCHITECTURES", "CONFIGS", "DomainBatchNorm2d", "DomainContext", "DomainLayerNorm", "ModelConfig", "ProUNeXt",
    "ProUNeXtConfig", "SwinUnet", "build_model", "config_for_arch", "count_parameters", "domain_norms", "get_config",
    "load_swin_pretrained", "norm_parameter_count",
]
