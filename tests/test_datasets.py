# Authors: The mne-deepinverse developers
# License: BSD-3-Clause
# Copyright the mne-deepinverse contributors.

import shutil

import mne
import numpy as np
import pytest

from mne_deepinverse import datasets
from mne_deepinverse.datasets import (
    CONVDIP_CH_NAMES,
    get_template,
    make_template_forward,
    make_template_info,
    read_pretrained_forward,
    setup_template_source_space,
)


def test_template_files(no_network):
    subjects_dir, subject = get_template()
    assert subject == "fsaverage5"
    for name in ("white", "pial", "inflated", "sphere", "sphere.reg", "curv"):
        for hemi in ("lh", "rh"):
            assert (subjects_dir / subject / "surf" / f"{hemi}.{name}").is_file()
    surfs = mne.read_bem_surfaces(
        subjects_dir / subject / "bem" / f"{subject}-head.fif", verbose=False
    )
    assert len(surfs[0]["rr"]) == 2033


@pytest.mark.parametrize("spacing, n_src", [("ico4", 2562), ("oct6", 4098)])
def test_source_space(spacing, n_src, no_network, tmp_path, monkeypatch):
    monkeypatch.setenv("MNE_DATA", str(tmp_path))
    src = setup_template_source_space(spacing)
    assert [s["nuse"] for s in src] == [n_src, n_src]
    assert src._subject == "fsaverage5"
    # second call comes from the cache
    assert list((tmp_path / "mne_deepinverse").glob(f"*{spacing}-src.fif"))
    src2 = setup_template_source_space(spacing)
    np.testing.assert_array_equal(src2[0]["vertno"], src[0]["vertno"])


def test_pretrained_forward(no_network):
    fwd = read_pretrained_forward("convdip")
    assert fwd["nsource"] == 5124
    assert fwd["info"]["ch_names"] == CONVDIP_CH_NAMES
    assert fwd["sol"]["data"].shape == (31, 5124)
    assert mne.forward.is_fixed_orient(fwd)
    free = read_pretrained_forward("convdip", fixed=False)
    assert free["sol"]["data"].shape == (31, 3 * 5124)
    assert not mne.forward.is_fixed_orient(free)
    with pytest.raises(ValueError, match="Invalid value for the 'model'"):
        read_pretrained_forward("nope")


def test_pretrained_hash(tmp_path, monkeypatch):
    from mne_deepinverse.datasets import _pretrained

    bad = tmp_path / "pretrained"
    shutil.copytree(datasets.pretrained_dir(), bad)
    with open(bad / "convdip-fwd.fif", "r+b") as fid:
        fid.seek(1000)
        fid.write(b"\x00corrupt")
    monkeypatch.setattr(_pretrained, "pretrained_dir", lambda: bad)
    with pytest.raises(RuntimeError, match="does not match the registry"):
        read_pretrained_forward("convdip")


def test_make_forward_offline(no_network, tmp_path, monkeypatch):
    """A forward for another montage is built offline and cached."""
    monkeypatch.setenv("MNE_DATA", str(tmp_path))
    names = ["Fp1", "Fp2", "F3", "F4", "C3", "C4", "P3", "P4", "O1", "O2", "Cz", "Pz"]
    info = make_template_info(names)
    fwd = make_template_forward(info, "ico4")
    assert fwd["sol"]["data"].shape == (12, 5124)
    assert mne.forward.is_fixed_orient(fwd)
    cached = list((tmp_path / "mne_deepinverse").glob("template-ico4-*-fwd.fif"))
    assert len(cached) == 1
    # same gains as the shipped 31-channel forward for shared channels
    ref = read_pretrained_forward("convdip")
    rows = [ref["info"]["ch_names"].index(n) for n in names]
    g_ref = ref["sol"]["data"][rows]
    g = fwd["sol"]["data"]
    # both are referenced differently only by a constant row; compare after
    # average reference over the shared channels
    g_ref = g_ref - g_ref.mean(0)
    g = g - g.mean(0)
    np.testing.assert_allclose(g, g_ref, rtol=1e-3, atol=1e-3 * np.abs(g).max())
    # the free-orientation version comes from the cache
    free = make_template_forward(info, "ico4", fixed=False)
    assert free["sol"]["data"].shape == (12, 3 * 5124)
    # EEG alone comes from the shipped scalp lead field: no BEM solution made
    assert not list((tmp_path / "mne_deepinverse").glob("*bem-sol.fif"))


@pytest.mark.parametrize("fixed", [True, False])
def test_eeg_leadfield_matches_mne(fixed, no_network):
    """The shipped lead field's forwards equal MNE's BEM forwards (rtol 1e-3)."""
    from mne_deepinverse.datasets._template import _template_forward_bem

    # a digitisation-like cap: biosemi32 with electrodes moved by ~3 mm
    montage = mne.channels.make_standard_montage("biosemi32")
    info = mne.create_info(montage.ch_names, 100.0, "eeg").set_montage(montage)
    rng = np.random.default_rng(0)
    for ch in info["chs"]:
        ch["loc"][:3] += rng.normal(scale=2e-3, size=3)
    fwd = make_template_forward(info, fixed=fixed)
    ref = _template_forward_bem(info, "ico4", datasets.DEFAULT_CONDUCTIVITY)
    if fixed:
        ref = mne.convert_forward_solution(ref, surf_ori=True, force_fixed=True,
                                           use_cps=True, verbose=False)
    assert fwd["info"]["ch_names"] == ref["info"]["ch_names"]
    np.testing.assert_allclose(fwd["source_nn"], ref["source_nn"], atol=1e-6)
    g, g_ref = fwd["sol"]["data"], ref["sol"]["data"]
    err = np.linalg.norm(g - g_ref, axis=0) / np.linalg.norm(g_ref, axis=0)
    assert err.max() < 1e-3, err.max()
    assert np.median(err) < 3e-4
    np.testing.assert_allclose(g, g_ref, rtol=1e-3, atol=1e-3 * np.abs(g_ref).max())


def test_bad_positions():
    info = make_template_info(["Cz", "Pz", "Oz"])
    info_nopos = mne.create_info(["Cz", "Pz", "X1"], 100.0, "eeg")
    with pytest.raises(ValueError, match=r"\['Cz', 'Pz', 'X1'\] have no position"):
        make_template_forward(info_nopos)
    # move Oz 5 cm away from the head
    with info._unlock():
        info["chs"][2]["loc"][:3] *= 1.6
    with pytest.raises(ValueError, match=r"\['Oz'\] are more than 35 mm .* cannot "
                       "be meant for the template head"):
        make_template_forward(info)
    # positions in mm instead of m, and a spherical layout
    mm = make_template_info(["Cz", "Pz", "Oz"])
    with mm._unlock():
        for ch in mm["chs"]:
            ch["loc"][:3] *= 1e3
    with pytest.raises(ValueError, match="must be in m, in head coordinates"):
        make_template_forward(mm)
    sphere = mne.channels.make_standard_montage("spherical_1020")
    with pytest.raises(ValueError, match="spherical_\\* montages are not head"):
        make_template_forward(mne.create_info(sphere.ch_names, 100.0, "eeg")
                              .set_montage(sphere))
    with pytest.raises(ValueError, match="Invalid value for the 'spacing'"):
        make_template_forward(make_template_info(["Cz"]), spacing="ico5")
    with pytest.raises(ValueError, match="No 10-05 position"):
        make_template_info(["Cz", "EEG 001"])
    with pytest.raises(ValueError, match="MEG channels but no device-to-head"):
        make_template_forward(mne.create_info(["MEG 0113"], 100.0, "mag"))
    with pytest.raises(ValueError, match="no EEG or MEG channels"):
        make_template_forward(mne.create_info(["X"], 100.0, "misc"))


def test_template_info_errors():
    with pytest.raises(ValueError, match="ch_names is empty. Pass the names"):
        make_template_info([])
    with pytest.raises(TypeError, match=r"single str 'Cz'. Pass a list, e.g. \['Cz'\]"):
        make_template_info("Cz")
    with pytest.raises(TypeError, match="single str 'Cz'"):
        datasets.make_template_montage("Cz")
    with pytest.raises(TypeError, match="each channel name in ch_names must be"):
        make_template_info(["Cz", 1])
    with pytest.raises(ValueError, match=r"duplicates \['Cz'\]. Pass each channel"):
        make_template_info(["Cz", "Pz", "Cz"])
    for sfreq in (0, -100.0, np.nan, np.inf):
        with pytest.raises(ValueError, match="sfreq must be a finite sampling"):
            make_template_info(["Cz"], sfreq=sfreq)
    with pytest.raises(TypeError, match="sfreq must be an instance of numeric"):
        make_template_info(["Cz"], sfreq="100")
    info = make_template_info(("Cz", "Pz"), sfreq=250)
    assert info["ch_names"] == ["Cz", "Pz"] and info["sfreq"] == 250.0


def test_fixed_must_be_bool():
    with pytest.raises(TypeError, match="fixed must be an instance of bool"):
        read_pretrained_forward("convdip", fixed="no")
    with pytest.raises(TypeError, match="fixed must be an instance of bool"):
        make_template_forward(make_template_info(["Cz"]), fixed="no")


def test_standard_montages_on_the_template(no_network, caplog):
    """MNE's standard caps are moved onto the template's scalp, with a note."""
    from mne_deepinverse.datasets import (
        check_scalp_positions,
        project_to_template_scalp,
    )

    montage = mne.channels.make_standard_montage("biosemi64")
    info = mne.create_info(montage.ch_names, 100.0, "eeg").set_montage(montage)
    before = info["chs"][0]["loc"].copy()
    dist = check_scalp_positions(info)
    assert 20 < dist.max() < 25  # Fpz, 23 mm off: refused before (> 20 mm)
    with caplog.at_level("INFO", logger="mne"):
        moved_montage, moved = project_to_template_scalp(info, verbose=True)
    np.testing.assert_allclose(moved, dist, atol=0.5)
    assert "Projected 64 EEG electrodes onto the template's scalp" in caplog.text
    assert "Fpz 23." in caplog.text
    np.testing.assert_array_equal(info["chs"][0]["loc"], before)  # not modified
    on_scalp = info.copy().set_montage(moved_montage)
    assert check_scalp_positions(on_scalp).max() < 1.0
    fwd = make_template_forward(info)
    assert fwd["sol"]["data"].shape == (64, 5124)
    # the forward holds the projected positions
    fwd_pos = np.array([ch["loc"][:3] for ch in fwd["info"]["chs"]])
    want = np.array([moved_montage.get_positions()["ch_pos"][ch]
                     for ch in fwd["info"]["ch_names"]])
    np.testing.assert_allclose(fwd_pos, want, atol=1e-6)


def test_forward_conductivity_defaults(no_network):
    """MEG alone gets a one-layer BEM (as MNE recommends); EEG needs three layers."""
    from mne_deepinverse.datasets import MEG_CONDUCTIVITY, make_template_meg_info

    info_meg = make_template_meg_info()
    fwd = make_template_forward(info_meg)
    assert fwd["sol"]["data"].shape == (306, 5124)
    assert list(datasets.get_cache_dir().glob(
        f"*-{'-'.join(f'{c:g}' for c in MEG_CONDUCTIVITY)}-bem-sol.fif"))
    with pytest.raises(ValueError, match="EEG needs the skull and scalp layers"):
        make_template_forward(make_template_info(["Cz", "Pz"]), conductivity=(0.3,))
    with pytest.raises(ValueError, match="or one \\(brain\\) for a one-layer MEG"):
        make_template_forward(info_meg, conductivity=(0.3, 0.006))
