# Authors: The mne-deepinverse developers
# License: BSD-3-Clause
# Copyright the mne-deepinverse contributors.
"""Sphinx configuration of the mne-deepinverse documentation.

Build it offline with ``sphinx-build -W --keep-going -b html doc doc/_build/html``
(needs the ``doc`` extra). Every gallery example runs during the build; set
``MNE_DEEPINVERSE_DOC_PLOT=0`` to skip running them (a fast check of the pages).
"""

import os
import sys
import warnings
from datetime import date
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import mne_deepinverse  # noqa: E402

# The examples draw cortex maps with MNE's stc.plot(backend="matplotlib"),
# headless; MNE 1.13 deprecates that backend (removal planned for 1.15) in
# favour of pyvista. Its FutureWarning is kept out of the gallery's output
# (see the limitations page).
warnings.filterwarnings("ignore", "Plotting source estimates with the matplotlib",
                        FutureWarning)

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # the repository, for the examples
sys.path.insert(0, str(HERE / "sphinxext"))  # the page generators

from model_zoo import write_model_zoo  # noqa: E402
from results_page import write_results_page  # noqa: E402

# -- Project ---------------------------------------------------------------
project = "mne-deepinverse"
author = "The mne-deepinverse developers"
copyright = f"{date.today().year}, {author}"
release = mne_deepinverse.__version__
version = ".".join(release.split(".")[:2])

# -- General ---------------------------------------------------------------
extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.intersphinx",
    "sphinx.ext.mathjax",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
    "sphinxcontrib.bibtex",
]
templates_path = ["_templates"]
exclude_patterns = ["_build", "Thumbs.db", ".DS_Store", "finetune_results.rst",
                    "auto_examples/*.ipynb",
                    "auto_examples/*.py", "auto_examples/*.zip",
                    "auto_examples/*.codeobj.json", "auto_examples/*.md5"]
source_suffix = {".rst": "restructuredtext"}
root_doc = "index"
default_role = "py:obj"
nitpicky = False  # names outside the inventories below stay plain text
# Intersphinx offline: the documentation builds without network access, so the
# inventories of MNE, numpy, scipy, scikit-learn and torch are files in the
# repository, written from the installed libraries by
# tools/make_inventories.py (their links point to the projects' stable docs).
_INV = HERE / "_inventories"
intersphinx_mapping = {
    name: (url, str(_INV / f"{name}.inv"))
    for name, url in (
        ("mne", "https://mne.tools/stable/"),
        ("numpy", "https://numpy.org/doc/stable/"),
        ("scipy", "https://docs.scipy.org/doc/scipy/"),
        ("sklearn", "https://scikit-learn.org/stable/"),
        ("torch", "https://docs.pytorch.org/docs/stable/"),
    )
}

# -- autodoc / autosummary ---------------------------------------------------
autosummary_generate = True
autodoc_default_options = {"inherited-members": False}
autodoc_typehints = "none"
add_module_names = False

# -- numpydoc ----------------------------------------------------------------
numpydoc_class_members_toctree = False
numpydoc_show_class_members = True
numpydoc_show_inherited_class_members = False
numpydoc_attributes_as_param_list = True
numpydoc_xref_param_type = False
numpydoc_validate = True
# Everything numpydoc checks, except the checks MNE-Python also leaves out.
numpydoc_validation_checks = {
    "all",
    "GL01",  # summary may start on the line of the opening quotes
    "EX01",  # no Examples section (the gallery has the examples)
    "ES01",  # no extended summary
    "SA01",  # no See Also
    "YD01",  # no Yields section
    "SA04",  # no description in See Also
    "RT02",  # first line of Returns may name the value
}
numpydoc_validation_exclude = {
    # module constants (their docstring is that of their type)
    r"\.[A-Z][A-Z0-9_]+$",
    # methods inherited from scikit-learn's BaseEstimator
    r"\.get_params$",
    r"\.set_params$",
    r"\.get_metadata_routing$",
    r"\.set_fit_request$",
    r"\.set_score_request$",
    r"\.set_predict_request$",
    r"\.__init__$",
}

# -- sphinxcontrib-bibtex ----------------------------------------------------
bibtex_bibfiles = ["references.bib"]
bibtex_default_style = "unsrt"
bibtex_reference_style = "author_year"
bibtex_foot_reference_style = "foot"

# -- sphinx-gallery ----------------------------------------------------------
_plot = os.environ.get("MNE_DEEPINVERSE_DOC_PLOT", "1") != "0"


def _have_sample_recording():
    """Whether the real-data examples find the sample recording."""
    from mne_deepinverse.datasets import find_sample_raw

    try:
        find_sample_raw(HERE.parent / "examples")
    except FileNotFoundError:
        return False
    return True


# Every example runs; the real-data example only where the recording is (the
# project's test data next to the repository, or MNE's sample data).
_pattern = r"/\d\d_"
if _plot and not _have_sample_recording():
    print("mne-deepinverse docs: MNE sample recording not found, examples 03, "
          "08, 09 and 10 are shown without running them (see examples/03_real_"
          "data_n100.py)")
    _pattern = r"/(?!03_|08_|09_|10_)\d\d_"
sphinx_gallery_conf = {
    "examples_dirs": ["../examples"],
    "gallery_dirs": ["auto_examples"],
    "filename_pattern": _pattern if _plot else r"^$",
    "plot_gallery": "True" if _plot else "False",
    "within_subsection_order": "FileNameSortKey",
    "doc_module": ("mne_deepinverse",),
    "reference_url": {"mne_deepinverse": None},
    "backreferences_dir": "generated/backreferences",
    "remove_config_comments": True,
    "abort_on_example_error": False,
    "only_warn_on_example_error": False,
    "min_reported_time": 0,
    "show_memory": False,
    "matplotlib_animations": False,
    "image_scrapers": ("matplotlib",),
    "capture_repr": ("_repr_html_", "__repr__"),
    "default_thumb_file": None,
    "download_all_examples": False,
    "write_computation_times": True,
}

# -- HTML --------------------------------------------------------------------
html_theme = "pydata_sphinx_theme"
html_title = f"mne-deepinverse {release}"
html_static_path = ["_static"]
html_theme_options = {
    "navbar_end": ["navbar-icon-links"],
    "secondary_sidebar_items": ["page-toc"],
    "show_toc_level": 1,
    "navigation_with_keys": False,
    "footer_start": ["copyright"],
    "footer_end": [],
}
html_show_sourcelink = False
html_last_updated_fmt = None


def _update(page, tmp):
    """Copy the freshly written ``tmp`` to ``page`` only if its text changed."""
    new = tmp.read_text()
    if not page.is_file() or page.read_text() != new:
        page.write_text(new)


def _results_page(app):
    """(Re)write the benchmark page and the model zoo from the benchmark JSON."""
    static = HERE / "_static" / "benchmark"
    runs = static / "runs.txt"  # several caps: one folder per run, in order
    folders = runs.read_text().split() if runs.is_file() else [""]
    jsons = [static / f / "benchmark.json" for f in folders]
    figures = [[f"_static/benchmark/{p.relative_to(static).as_posix()}"
                for p in sorted((static / f).glob("benchmark_*.png"))]
               for f in folders]
    tmp = HERE / "_build" / "benchmark_results.rst"
    tmp.parent.mkdir(parents=True, exist_ok=True)
    comparison = static / "sifnet_comparison.json"
    comparison = comparison if comparison.is_file() else None
    if runs.is_file():
        write_results_page(jsons, tmp, figures=figures, comparison=comparison)
    else:
        write_results_page(jsons[0], tmp, figures=figures[0], comparison=comparison)
    _update(HERE / "benchmark_results.rst", tmp)  # untouched unless the JSON changed
    # the model zoo: the shipped cards and these runs' numbers
    speed = HERE / "_static" / "speed" / "bench_apply.json"
    write_model_zoo(tmp, jsons, speed=speed if speed.is_file() else None)
    _update(HERE / "model_zoo.rst", tmp)


def setup(app):
    """Regenerate the benchmark page before the sources are read."""
    app.connect("builder-inited", _results_page)
