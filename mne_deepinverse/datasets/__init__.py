# Authors: The mne-deepinverse developers
# License: BSD-3-Clause
# Copyright the mne-deepinverse contributors.
"""Offline template head model and pretrained-model files."""

from ._pretrained import (
    CONVDIP_CH_NAMES,
    fetch_pretrained_file,
    pretrained_dir,
    read_pretrained_forward,
)
from ._sample import find_sample_raw
from ._template import (
    DEFAULT_CONDUCTIVITY,
    MEG_CONDUCTIVITY,
    MEG_SYSTEMS,
    TEMPLATE_SUBJECT,
    check_scalp_positions,
    get_cache_dir,
    get_template,
    get_template_trans,
    make_template_bem,
    make_template_forward,
    make_template_info,
    make_template_meg_info,
    make_template_montage,
    project_to_template_scalp,
    read_meg_noise_cov,
    setup_template_source_space,
)

__all__ = [
    "CONVDIP_CH_NAMES",
    "DEFAULT_CONDUCTIVITY",
    "MEG_CONDUCTIVITY",
    "MEG_SYSTEMS",
    "TEMPLATE_SUBJECT",
    "check_scalp_positions",
    "fetch_pretrained_file",
    "find_sample_raw",
    "get_cache_dir",
    "get_template",
    "get_template_trans",
    "make_template_bem",
    "make_template_forward",
    "make_template_info",
    "make_template_meg_info",
    "make_template_montage",
    "pretrained_dir",
    "project_to_template_scalp",
    "read_meg_noise_cov",
    "read_pretrained_forward",
    "setup_template_source_space",
]
