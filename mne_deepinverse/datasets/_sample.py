# Authors: The mne-deepinverse developers
# License: BSD-3-Clause
# Copyright the mne-deepinverse contributors.
"""Where the MNE "sample" recording is, offline."""

import os
from pathlib import Path

#: The 24-second excerpt of the sample recording in the project's test data.
SNIPPET = Path("shared", "data", "sample_audvis_snippet_raw.fif")


def find_sample_raw(start=None):
    """Find the MNE "sample" recording (Neuromag MEG + 60 EEG) without downloading.

    Looks, in this order, for the file named by the environment variable
    ``MNE_DEEPINVERSE_SAMPLE_RAW``, the full recording of
    :func:`mne.datasets.sample.data_path` if it has been downloaded already,
    and the 24-second excerpt in the project's test data
    (``shared/data/sample_audvis_snippet_raw.fif`` in ``start`` or one of its
    parent folders).

    Parameters
    ----------
    start : path-like | None
        Where to start looking for the excerpt (default: the current folder).

    Returns
    -------
    fname : pathlib.Path
        The raw FIF file.
    """
    import mne

    if os.environ.get("MNE_DEEPINVERSE_SAMPLE_RAW"):
        return Path(os.environ["MNE_DEEPINVERSE_SAMPLE_RAW"])
    full = Path(mne.datasets.sample.data_path(download=False, verbose=False))
    full = full / "MEG" / "sample" / "sample_audvis_raw.fif"
    if full.is_file():
        return full
    start = Path.cwd() if start is None else Path(start).resolve()
    for folder in (start, *start.parents):
        if (folder / SNIPPET).is_file():
            return folder / SNIPPET
    raise FileNotFoundError(
        "The MNE sample recording was not found: download it with "
        "mne.datasets.sample.data_path(), or set MNE_DEEPINVERSE_SAMPLE_RAW to "
        "sample_audvis_raw.fif or to the project's excerpt "
        f"({SNIPPET})."
    )
