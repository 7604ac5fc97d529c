# Authors: The mne-deepinverse developers
# License: BSD-3-Clause
# Copyright the mne-deepinverse contributors.
"""Models for any EEG cap: a fixed scalp grid and the cap's interpolation onto it.

A model that accepts any cap does not read channels: it reads a fixed grid of
virtual electrodes that cover the head (directions from the head's centre,
laid out as an image by an azimuthal equidistant projection around the
vertex). The user's EEG, average-referenced and divided by its signed peak,
is interpolated onto the grid with spherical splines
:footcite:`PerrinEtAl1989` (MNE's own interpolation, as in
:meth:`mne.io.Raw.interpolate_bads`); the matrix depends only on the
electrode positions, so it is computed once per forward model and applied to
every time sample as one matrix product. The network then works on the
image, whatever the cap.

The model card's ``cap`` entry holds everything needed for that: the head
centre, the grid, the spline regularisation and the range of caps the model
was trained for (channel count, largest uncovered angle).
"""

import numpy as np
from mne.utils import _check_on_missing, _on_missing


def grid_directions(grid_shape, theta_max_deg):
    """Return the directions (head coordinates) of the grid's virtual electrodes.

    Parameters
    ----------
    grid_shape : tuple of int
        Rows (front to back) and columns (left to right) of the image.
    theta_max_deg : float
        Largest angle from the vertex (+z) covered by the grid; pixels beyond
        it (the image's corners) are outside the head and stay zero.

    Returns
    -------
    dirs : array, shape (n_pixels, 3)
        Directions (x right, y front, z up) of every pixel, row by row.
    inside : array of bool, shape (n_pixels,)
        Pixels within ``theta_max_deg`` of the vertex.
    theta : array, shape (n_pixels,)
        Angle (rad) of every pixel from the vertex.
    """
    rows, cols = grid_shape
    t_max = np.deg2rad(theta_max_deg)
    u, v = np.meshgrid(np.linspace(-t_max, t_max, cols),
                       np.linspace(t_max, -t_max, rows))
    u, v = u.ravel(), v.ravel()
    theta = np.hypot(u, v)
    phi = np.arctan2(v, u)
    dirs = np.c_[np.sin(theta) * np.cos(phi), np.sin(theta) * np.sin(phi),
                 np.cos(theta)]
    return dirs, theta <= t_max + 1e-9, theta


def _unit(pos, origin):
    vec = np.asarray(pos, float) - np.asarray(origin, float)
    return vec / np.linalg.norm(vec, axis=1, keepdims=True)


def cap_interpolation(pos, cap, *, inside_only=False):
    """Spherical-spline interpolation from electrodes onto the grid.

    Parameters
    ----------
    pos : array, shape (n_channels, 3)
        Electrode positions (head coordinates, m).
    cap : dict
        The model card's ``cap`` entry.
    inside_only : bool
        Leave out the pixels outside the grid's disc (the image's corners).

    Returns
    -------
    interp : array of float32, shape (n_channels, n_pixels)
        ``image = eeg @ interp`` for EEG samples ``(n, n_channels)``; pixels
        outside the grid's disc get zero (or are left out).
    """
    from mne.channels.interpolation import _make_interpolation_matrix

    dirs, inside, _ = grid_directions(cap["grid_shape"], cap["theta_max_deg"])
    unit = _unit(pos, cap["origin"])
    interp = np.zeros((len(dirs), len(unit)))
    interp[inside] = _make_interpolation_matrix(unit, dirs[inside],
                                                alpha=cap["alpha"])
    if inside_only:
        interp = interp[inside]
    return np.ascontiguousarray(interp.T, dtype=np.float32)


def on_fitted_sphere(*positions):
    """Return the directions of electrode sets from the sphere fitted to all.

    Parameters
    ----------
    *positions : array, shape (n, 3)
        Electrode positions (head coordinates, m).

    Returns
    -------
    units : list of array, shape (n, 3)
        Unit vectors from the centre of the sphere fitted to all positions
        (as MNE's ``origin="auto"``), one array per set.
    """
    from mne.bem import _fit_sphere

    origin = _fit_sphere(np.concatenate(positions))[1]
    return [_unit(pos, origin) for pos in positions]


def electrode_interpolation(unit_from, unit_to, alpha=1e-5):
    """Spherical-spline interpolation from electrodes onto other electrodes.

    MNE's spherical splines, as :meth:`mne.Evoked.interpolate_to` uses them.

    Parameters
    ----------
    unit_from, unit_to : array, shape (n_from, 3), (n_to, 3)
        Directions of the electrodes (:func:`on_fitted_sphere`).
    alpha : float
        Regularisation of the splines (MNE's default).

    Returns
    -------
    interp : array, shape (n_to, n_from)
        ``eeg_to = interp @ eeg_from`` for EEG ``(n_from, n_times)``.
    """
    from mne.channels.interpolation import _make_interpolation_matrix

    return _make_interpolation_matrix(unit_from, unit_to, alpha=alpha)


def coverage_gap(pos, cap):
    """Largest angle (deg) from an upper-head pixel to its nearest electrode.

    Parameters
    ----------
    pos : array, shape (n_channels, 3)
        Electrode positions (head coordinates, m).
    cap : dict
        The model card's ``cap`` entry.

    Returns
    -------
    gap : float
        Over the grid's pixels within 90 degrees of the vertex, the largest
        angular distance to the nearest electrode (degrees).
    """
    dirs, _, theta = grid_directions(cap["grid_shape"], cap["theta_max_deg"])
    upper = dirs[theta <= np.pi / 2]
    cos = np.clip(upper @ _unit(pos, cap["origin"]).T, -1, 1)
    return float(np.rad2deg(np.arccos(cos.max(axis=1))).max())


def check_cap(ch_names, pos, cap, on_mismatch="raise"):
    """Check that a cap is within what an any-cap model was trained for.

    Parameters
    ----------
    ch_names : list of str
        The cap's EEG channels.
    pos : array, shape (n_channels, 3)
        Their positions (head coordinates, m).
    cap : dict
        The model card's ``cap`` entry.
    on_mismatch : "raise" | "warn" | "ignore"
        What to do when the cap is outside the trained range.
    """
    _check_on_missing(on_mismatch, "on_mismatch")
    low, high = cap["n_channels"]
    n = len(ch_names)
    if not low <= n <= high:
        _on_missing(on_mismatch, (
            f"The forward has {n} EEG channels; this model was trained for caps "
            f"of {low} to {high} channels. Use a model trained for your cap "
            "(DeepInverse(fwd).fit()) or pass on_mismatch='warn' to apply it "
            "anyway."), name="on_mismatch", error_klass=ValueError)
        return
    gap = coverage_gap(pos, cap)
    if gap > cap["max_gap_deg"]:
        _on_missing(on_mismatch, (
            f"The cap leaves part of the head uncovered: a point of the upper "
            f"head is {gap:.0f} degrees from the nearest electrode, more than the "
            f"{cap['max_gap_deg']:g} degrees of the caps this model was trained "
            "for (e.g. a cap covering only part of the head, or many missing "
            "channels). Interpolate missing channels first, use a model trained "
            "for your cap, or pass on_mismatch='warn'."),
            name="on_mismatch", error_klass=ValueError)
