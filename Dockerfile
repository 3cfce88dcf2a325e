# vk-trio: the virtual kubelet as a container (docs/deploy.md).
#   make image                                   # buildah or docker; stand-in base if needed
#   docker build -t vk-trio:0.1.0 .              # with a registry that has PYTHON_IMAGE
#   docker run --rm vk-trio:0.1.0 providers
#
# Stages:
#   build    - a virtualenv at /opt/vk-trio with vk-trio-queue, vk-trio and their runtime
#              dependencies, the otlp extra included (--trace-exporter otlp; no dev extras), pruned of what vk-trio never loads
#              (scripts/image-prune.py), then pip, setuptools and wheel taken out of it.
#   runtime  - (the default target) the base, Debian's tini as PID 1, that virtualenv, a
#              non-root user; no compiler, no pip, no tests, no byte-code caches.
# Both stages use the same PYTHON_IMAGE: the virtualenv's interpreter is the base's.
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
# No byte code yet: scripts/image-prune.py writes it once, for what the process imports.
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore \
    PYTHONDONTWRITEBYTECODE=1
WORKDIR /src
# Dependencies first, in their own layer: rebuilding after a code change reuses it.
# vk-trio pins vk-trio-queue, built here from this tree (its sources are vk_trio/queue).
COPY pyproject.toml README.md LICENSE ./
COPY packaging/vk-trio-queue ./packaging/vk-trio-queue
COPY vk_trio/queue ./vk_trio/queue
# A host behind a TLS-inspecting proxy hands its CA bundle in as the build secret "pip-ca"
# (scripts/image does: --secret id=pip-ca,src=<bundle>); without it pip uses its own.
RUN --mount=type=secret,id=pip-ca \
    if [ -s /run/secrets/pip-ca ]; then export PIP_CERT=/run/secrets/pip-ca; fi \
    && python -m venv /opt/vk-trio \
    && /opt/vk-trio/bin/pip install --no-compile ./packaging/vk-trio-queue \
    && python -c 'import tomllib; p = tomllib.load(open("pyproject.toml", "rb"))["project"]; print("\n".join(p["dependencies"] + p["optional-dependencies"]["otlp"]))' \
       > /tmp/requirements.txt \
    && /opt/vk-trio/bin/pip install --no-compile -r /tmp/requirements.txt
COPY vk_trio ./vk_trio
COPY providers ./providers
COPY scripts/image-prune.py /tmp/image-prune.py
RUN --mount=type=secret,id=pip-ca \
    if [ -s /run/secrets/pip-ca ]; then export PIP_CERT=/run/secrets/pip-ca; fi \
    && /opt/vk-trio/bin/pip install --no-compile --no-deps . \
    && /opt/vk-trio/bin/pip check \
    && /opt/vk-trio/bin/python /tmp/image-prune.py \
    && /opt/vk-trio/bin/pip uninstall --yes pip setuptools wheel \
    && /opt/vk-trio/bin/vk-trio providers

FROM ${PYTHON_IMAGE} AS runtime
# tini follows Debian's security updates within the pinned base release, hence no version pin.
# The base's own pip (official python images carry one) goes too: nothing installs at run time.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install --yes --no-install-recommends tini \
    && rm -rf /var/lib/apt/lists/* /var/cache/apt/* /var/log/apt /var/log/dpkg.log \
    && (python -m pip uninstall --yes pip setuptools wheel >/dev/null 2>&1 || true) \
    && rm -rf /usr/local/bin/pip* /usr/local/lib/python3*/ensurepip/_bundled \
       /usr/lib/python3*/ensurepip/_bundled /usr/share/python-wheels \
    && groupadd --system --gid 10001 vk \
    && useradd --system --uid 10001 --gid vk --home-dir /nonexistent --no-create-home \
       --shell /usr/sbin/nologin vk
COPY --from=build /opt/vk-trio /opt/vk-trio
COPY LICENSE /usr/share/doc/vk-trio/LICENSE
ENV PATH=/opt/vk-trio/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1
USER 10001:10001
# 10250: kubelet API (HTTPS, KUBELET_PORT); 10255: metrics and /healthz (--metrics-addr)
EXPOSE 10250 10255
# SIGTERM (podman/docker stop, kubelet) reaches vk-trio through tini: graceful shutdown, exit 0.
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/bin/tini", "--", "vk-trio"]
