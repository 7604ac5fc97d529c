# Authors: The mne-deepinverse developers
# License: BSD-3-Clause
# Copyright the mne-deepinverse contributors.
"""Write the intersphinx inventories of MNE, numpy, scipy, scikit-learn, torch.

The documentation builds offline (no network on the build machines), so
intersphinx cannot download ``objects.inv`` files. This script writes them
from the installed libraries instead: every public function and class of the
modules below (and the public methods of the classes), each at the address
its project's API reference gives it (one page per object, as their
autosummary builds make them:
``<base><prefix><full name>.html#<full name>``; a method on its class's page).
The files go to ``doc/_inventories/`` and are kept in the repository; run
this again when a newer library adds objects the documentation refers to::

    python tools/make_inventories.py
"""

import importlib
import inspect
import sys
import zlib
from pathlib import Path

OUT = Path(__file__).resolve().parents[1] / "doc" / "_inventories"

#: project -> (modules to walk, page prefix under the project's base address)
#: (numpy and scipy give each method a page of its own; the others document
#: methods on their class's page)
PROJECTS = {
    "mne": (("mne", "mne.beamformer", "mne.channels", "mne.cov", "mne.datasets",
             "mne.datasets.sample", "mne.decoding", "mne.filter", "mne.io",
             "mne.minimum_norm", "mne.simulation", "mne.transforms", "mne.utils",
             "mne.viz"), "generated/"),
    "numpy": (("numpy", "numpy.linalg", "numpy.random"), "reference/generated/"),
    "scipy": (("scipy.linalg", "scipy.optimize", "scipy.sparse",
               "scipy.sparse.csgraph", "scipy.spatial", "scipy.stats"),
              "reference/generated/"),
    "sklearn": (("sklearn.base", "sklearn.frozen", "sklearn.linear_model",
                 "sklearn.model_selection", "sklearn.pipeline",
                 "sklearn.utils.estimator_checks"), "modules/generated/"),
    "torch": (("torch.nn",), "generated/"),
}

METHOD_PAGES = ("numpy", "scipy")

#: objects whose page is not the pattern's (their project's own address)
SPECIAL = {
    "numpy": {"numpy.random.Generator": ("py:class",
                                         "reference/random/generator.html#$")},
}


def _public(module):
    """Yield (full name, object) of a module's public functions and classes."""
    names = getattr(module, "__all__", None) or [
        n for n in dir(module) if not n.startswith("_")]
    for name in sorted(set(names)):
        try:
            obj = getattr(module, name)
        except Exception:  # lazy attributes that fail to load
            continue
        if callable(obj) and not inspect.ismodule(obj):  # numpy's are dispatchers
            yield f"{module.__name__}.{name}", obj


def _entries(project):
    """Return the inventory lines of a project."""
    modules, prefix = PROJECTS[project]
    lines = {}
    for modname in modules:
        module = importlib.import_module(modname)
        for full, obj in _public(module):
            if inspect.isclass(obj):
                lines[full] = ("py:class", f"{prefix}{full}.html#$")
                page = "{prefix}{full}.{meth}" if project in METHOD_PAGES else (
                    "{prefix}{full}")
                for meth in dir(obj):
                    member = getattr(obj, meth, None)
                    if meth.startswith("_") or not callable(member):
                        continue
                    uri = page.format(prefix=prefix, full=full, meth=meth)
                    lines[f"{full}.{meth}"] = ("py:method", f"{uri}.html#$")
            else:
                lines[full] = ("py:function", f"{prefix}{full}.html#$")
    lines.update(SPECIAL.get(project, {}))
    return lines


def write_inventory(project, version):
    """Write ``doc/_inventories/<project>.inv`` (Sphinx inventory, version 2)."""
    entries = _entries(project)
    body = "".join(f"{name} {role} 1 {uri} -\n"
                   for name, (role, uri) in sorted(entries.items()))
    head = ("# Sphinx inventory version 2\n"
            f"# Project: {project}\n# Version: {version}\n"
            "# The remainder of this file is compressed using zlib.\n")
    OUT.mkdir(parents=True, exist_ok=True)
    fname = OUT / f"{project}.inv"
    fname.write_bytes(head.encode() + zlib.compress(body.encode(), 9))
    return fname, len(entries)


def main():
    """Write every project's inventory."""
    for project in PROJECTS:
        version = importlib.import_module(project).__version__
        fname, n = write_inventory(project, version)
        print(f"{fname.relative_to(OUT.parents[1])}: {n} objects ({project} "
              f"{version})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
