# vk-trio: the virtual kubelet as a container.
#   docker build -t vk-trio:0.1.0 .
#   docker run --rm vk-trio:0.1.0 providers
# Two stages: the build stage installs the project and its runtime dependencies (no dev extras)
# into a virtualenv; the runtime stage copies only that virtualenv onto the same slim base, adds
# tini as PID 1 (signal forwarding, zombie reaping) and runs as an unprivileged user.
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY vk_trio ./vk_trio
COPY providers ./providers
# vk_trio.queue is the vk-trio-queue distribution, built from this tree (vk-trio depends on it).
COPY packaging/vk-trio-queue ./packaging/vk-trio-queue
RUN python -m venv /opt/vk-trio \
    && /opt/vk-trio/bin/pip install ./packaging/vk-trio-queue . \
    && /opt/vk-trio/bin/pip uninstall --yes pip setuptools \
    && /opt/vk-trio/bin/vk-trio providers

FROM ${PYTHON_IMAGE}
# tini follows Debian's security updates within the pinned base release, hence no version pin.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install --yes --no-install-recommends tini \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 vk \
    && useradd --system --uid 10001 --gid vk --home-dir /nonexistent --no-create-home \
       --shell /usr/sbin/nologin vk
COPY --from=build /opt/vk-trio /opt/vk-trio
ENV PATH=/opt/vk-trio/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1
USER 10001:10001
# 10250: kubelet API (HTTPS, KUBELET_PORT); 10255: metrics and /healthz (--metrics-addr)
EXPOSE 10250 10255
ENTRYPOINT ["/usr/bin/tini", "--", "vk-trio"]
