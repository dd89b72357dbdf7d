"""Packaging for fashion-tfx: the repo-root folders install as subpackages of `fashion_tfx`."""

from setuptools import find_packages, setup

# The user's layout keeps pipeline/, components/, models/, data/ and kubeflow/ at the repo root.
# Installed under those bare names they could collide with other distributions (`kubeflow` is a
# namespace other packages use; `pipeline`, `models` and `data` are common), so each folder is
# mapped into the `fashion_tfx` namespace instead: `fashion_tfx.pipeline`, `fashion_tfx.models`, ...
FOLDERS = ("pipeline", "components", "models", "data", "kubeflow", "serving", "security")
SUBPACKAGES = [
    name
    for folder in FOLDERS
    for name in [folder] + [f"{folder}.{sub}" for sub in find_packages(where=folder)]
]

setup(
    name="fashion-tfx",
    version="0.1.0",
    description="A TFX pipeline that trains, tunes, evaluates and ships a Fashion-MNIST classifier.",
    python_requires=">=3.10,<3.11",
    packages=[f"fashion_tfx.{name}" for name in SUBPACKAGES],
    # One top-level module: the import path TFX's Kubeflow entrypoint needs for custom artifact types.
    py_modules=["fashion_tfx_artifacts"],
    # The curated schema ImportSchemaGen reads travels with the code (e.g. into the Kubeflow image).
    package_data={
        "fashion_tfx.data": ["schema.pbtxt"],
        # The audit's advisory snapshot and its list of accepted findings.
        "fashion_tfx.security": ["advisories/*", "accepted-findings.yaml"],
    },
    package_dir={f"fashion_tfx.{name}": name.replace(".", "/") for name in SUBPACKAGES},
    # Versions live in requirements.lock (installed with --no-deps); these are the direct needs.
    install_requires=[
        "tfx",
        "apache-beam",
        "tensorflow",
        "keras-tuner",
        "opencv-python-headless",
        "matplotlib",
    ],
    entry_points={"console_scripts": ["fashion-tfx=fashion_tfx.pipeline.cli:main"]},
)
