# Authors: The mne-deepinverse developers
# License: BSD-3-Clause
# Copyright the mne-deepinverse contributors.
"""Windows of EEG with targets per region of a parcellation (shared part)."""

import numpy as np
from mne.utils import _validate_type
from scipy import sparse

from .._sensors import Sensors, sensor_gain
from .._utils import _check_fixed_forward, _source_positions, _src_space_ids
from ._base import Simulator
from ._parcellation import make_parcellation, region_expansion


class _RegionWindows(Simulator):
    """Windows of EEG with targets per region of a parcellation (shared part).

    Sets the forward's gain, the parcellation (:func:`make_parcellation`,
    drawn first from ``rng``, so two simulators with the same seed share
    it), the region-to-source maps and the window geometry.
    """

    def _setup(self, fwd, n_regions, sfreq, n_times, rng, *, max_times=None,
               noise_cov=None):
        fwd = _check_fixed_forward(fwd)
        self.gain, self.ch_names, _ = sensor_gain(fwd)
        self.sensors = Sensors.from_forward(fwd, noise_cov)
        pos = _source_positions(fwd)
        n_src = len(pos)
        if n_regions is None:
            n_regions = max(2, min(1000, n_src // 5))
        _validate_type(n_regions, "int-like", "n_regions")
        _validate_type(sfreq, "numeric", "sfreq")
        _validate_type(n_times, "int-like", "n_times")
        if not sfreq >= 100:
            raise ValueError(f"sfreq must be >= 100 Hz (the spikes last ~50 ms), "
                             f"got {sfreq}.")
        if not n_times >= 8:
            raise ValueError(f"n_times must be at least 8, got {n_times}.")
        if max_times is not None and n_times > max_times:
            raise ValueError(
                f"n_times must be at most a quarter of a bank run (seconds * "
                f"sfreq / 4 = {max_times:g}), got {n_times}; use longer runs "
                "(seconds) for longer windows.")
        self.sfreq, self.n_times = float(sfreq), int(n_times)
        self.labels, self.centres, self.region_space = make_parcellation(
            pos, _src_space_ids(fwd["src"]), int(n_regions), rng)
        self.member = sparse.csr_matrix(
            (np.ones(n_src), (np.arange(n_src), self.labels)),
            shape=(n_src, int(n_regions)))
        self.region_gain = np.asarray(self.gain @ self.member)  # (n_ch, n_regions)
        # (n_sources, n_regions): the mean over every region's sources
        counts = np.asarray(self.member.sum(axis=0)).ravel()
        self._region_mean = sparse.csr_matrix(self.member.multiply(1 / counts))
        self.expansion = region_expansion(pos, self.labels, self.centres,
                                          self.region_space)
        return fwd

    def _measure(self, rows):
        """Rows of windows as the SNR measures them (whitened for MEG)."""
        if not self.sensors.whitened:
            return rows
        n_ch = len(self.ch_names)
        return self.sensors.pre(rows.reshape(len(rows), -1, n_ch)).reshape(
            len(rows), -1)

    @property
    def input(self):
        """What a model trained on the data reads: a window (dict)."""
        return dict(kind="window", n_times=self.n_times, sfreq=self.sfreq)

    @property
    def n_regions(self):
        """Number of regions of the parcellation (int)."""
        return self.member.shape[1]

    def to_sources(self, Y):
        """Map region activity onto the sources.

        Parameters
        ----------
        Y : array, shape (..., n_regions)
            Activity per region (e.g. the targets of :meth:`simulate`).

        Returns
        -------
        Y_sources : array, shape (..., n_sources)
            Every source takes its region's value.
        """
        return np.asarray(Y @ self.member.T.toarray().astype(Y.dtype))

    def to_regions(self, Y):
        """Average source activity over the regions.

        Parameters
        ----------
        Y : array, shape (..., n_sources)
            Activity per source.

        Returns
        -------
        Y_regions : array, shape (..., n_regions)
            The mean over every region's sources.
        """
        Y = np.asarray(Y)
        return np.asarray(Y @ self._region_mean.toarray().astype(Y.dtype))
