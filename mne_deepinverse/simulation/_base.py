# Authors: The mne-deepinverse developers
# License: BSD-3-Clause
# Copyright the mne-deepinverse contributors.
"""The simulator protocol: what every simulator draws and how to read it."""


class Simulator:
    """Base class of the simulators: draw training pairs ``(X, Y)``.

    A simulator draws sensor data ``X`` together with the source activity
    ``Y`` that produced them, from a fixed-orientation forward model.
    Subclasses implement :meth:`simulate` and :attr:`input`, and override
    :meth:`to_sources` when ``Y`` is not given per source (e.g. per region of
    a parcellation).

    Attributes
    ----------
    ch_names : list of str
        The channels of the last axis of ``X`` (the forward's EEG and MEG
        channels).
    """

    @property
    def input(self):
        """What a model trained on the data reads (dict).

        ``{"kind": "sample"}``: one time sample, ``X`` of shape
        ``(n, n_channels)``; or ``{"kind": "window", "n_times": int,
        "sfreq": float}``: windows, ``X`` of shape ``(n, n_times,
        n_channels)``. The same format as the model card's ``input``
        (the ``input`` of :class:`mne_deepinverse.DeepInverseModel`).
        """
        raise NotImplementedError(f"{type(self).__name__} does not say its input.")

    def simulate(self, n, rng):
        """Draw ``n`` samples (or windows) of sensor data and source activity.

        Parameters
        ----------
        n : int
            Number of samples or windows.
        rng : instance of numpy.random.Generator
            The random generator (advanced in place): a generator of the same
            seed gives the same arrays.

        Returns
        -------
        X : array, shape (n, n_channels) | (n, n_times, n_channels)
            Sensor data in V (MEG in T and T/m), channels as ``ch_names``;
            the shape :attr:`input` says.
        Y : array, shape (n, n_sources) | (n, n_times, n_targets)
            The true activity in Am, per source or per target (e.g. region)
            that :meth:`to_sources` maps onto the sources.
        """
        raise NotImplementedError(f"{type(self).__name__} does not simulate.")

    def to_sources(self, Y):
        """Map the activity ``Y`` of :meth:`simulate` onto the sources.

        Parameters
        ----------
        Y : array, shape (..., n_sources) | (..., n_targets)
            Activity as :meth:`simulate` returns it.

        Returns
        -------
        Y_sources : array, shape (..., n_sources)
            Activity per source (``Y`` itself here, for simulators that give
            it per source).
        """
        return Y
