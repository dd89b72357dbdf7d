# The pipeline image: Python 3.10 with requirements-runtime.lock (what the pipeline runs with, no test or
# lint tool), the project installed (not editable) and Debian's copy of Fashion-MNIST. Build from the repo root: docker build -t IMAGE:TAG .
ARG PYTHON_IMAGE=python:3.10-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
# A compiler for the two lock entries that ship no wheel (crcmod, pyfarmhash).
RUN apt-get update \
 && apt-get install -y --no-install-recommends build-essential \
 && rm -rf /var/lib/apt/lists/*
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
# The same flags as scripts/setup-venv.sh, whose lock is this one plus the dev tools at the same pins.
COPY requirements-runtime.lock /opt/fashion-tfx/requirements-runtime.lock
RUN python -m pip install --no-cache-dir --upgrade "pip==24.3.1" "setuptools==80.9.0" "wheel==0.45.1" \
 && python -m pip install --no-cache-dir --no-deps -r /opt/fashion-tfx/requirements-runtime.lock
COPY . /opt/fashion-tfx
RUN python -m pip install --no-cache-dir --no-deps --no-build-isolation /opt/fashion-tfx \
 && python -m pip check

FROM ${PYTHON_IMAGE}
# The IDX files the compiled spec points IdxExampleGen at: /usr/share/datasets/fashion-mnist.
RUN apt-get update \
 && apt-get install -y --no-install-recommends dataset-fashion-mnist \
 && rm -rf /var/lib/apt/lists/*
COPY --from=build /opt/venv /opt/venv
# The source tree too, for any module file the spec names by its path in the image.
COPY . /opt/fashion-tfx
# The spec runs `python -m tfx.orchestration.kubeflow.v2.container.kubeflow_v2_run_executor`: the venv's.
# That entrypoint imports TensorFlow before the project, so oneDNN is switched on here (see pipeline/).
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    TF_CPP_MIN_LOG_LEVEL=2 \
    TF_ENABLE_ONEDNN_OPTS=1
# Not the source tree: `python -m` puts the working directory first on sys.path, where its folders
# (kubeflow/, data/, models/) would be imported instead of the installed packages of the same names.
WORKDIR /workspace
CMD ["fashion-tfx", "--help"]
