"""The measurements behind ``python -m bench api`` (see the package docstring)."""

from __future__ import annotations

import ssl
import statistics
import tempfile
import time
from pathlib import Path

import trio
import trustme

from vk_trio.api import KubeletServer, KubeletServerConfig
from vk_trio.api.spdy import open_spdy_connection
from vk_trio.provider import Pod
from vk_trio_mock import MockProvider

NODE = "vk-bench"


async def _response(stream: trio.SSLStream[trio.SocketStream], buffer: bytearray) -> bytes:
    """Read one response from ``stream``: Content-Length, or chunked (streamed logs)."""
    while True:
        end = buffer.find(b"\r\n\r\n")
        if end >= 0:
            head = bytes(buffer[:end]).lower() + b"\r\n"
            if b"content-length:" in head:
                start = head.index(b"content-length:") + len(b"content-length:")
                length = int(head[start : head.index(b"\r\n", start)].strip())
                total = end + 4 + length
            else:
                last = buffer.find(b"\r\n0\r\n\r\n", end)
                total = last + 7 if last >= 0 else len(buffer) + 1
            if len(buffer) >= total:
                body = bytes(buffer[end + 4 : total])
                del buffer[:total]
                return body
        chunk = await stream.receive_some(65536)
        if not chunk:
            raise EOFError("server closed the connection")
        buffer += chunk


async def _requests(port: int, context: ssl.SSLContext, path: bytes, count: int) -> None:
    stream = await trio.open_ssl_over_tcp_stream("127.0.0.1", port, ssl_context=context)
    request = b"GET " + path + b" HTTP/1.1\r\nHost: kubelet\r\n\r\n"
    buffer = bytearray()
    for _ in range(count):
        await stream.send_all(request)
        await _response(stream, buffer)
    await stream.aclose()


async def _rate(port: int, context: ssl.SSLContext, path: bytes, count: int, conns: int) -> float:
    start = time.perf_counter()
    async with trio.open_nursery() as nursery:
        for _ in range(conns):
            nursery.start_soon(_requests, port, context, path, count // conns)
    return (count // conns) * conns / (time.perf_counter() - start)


async def _exec_session(port: int, context: ssl.SSLContext) -> None:
    stream = await trio.open_ssl_over_tcp_stream("127.0.0.1", port, ssl_context=context)
    await stream.send_all(
        b"POST /exec/ns/p/app?command=echo&command=hi&output=1&error=1 HTTP/1.1\r\n"
        b"Host: kubelet\r\nConnection: Upgrade\r\nUpgrade: SPDY/3.1\r\n"
        b"X-Stream-Protocol-Version: v4.channel.k8s.io\r\n\r\n"
    )
    data = b""
    while b"\r\n\r\n" not in data:
        data += await stream.receive_some()
    _, _, rest = data.partition(b"\r\n\r\n")
    async with open_spdy_connection(stream, client_side=True, initial_data=rest, linger=0) as conn:
        error = await conn.open_stream([("streamType", "error")])
        stdout = await conn.open_stream([("streamType", "stdout")])
        await conn.open_stream([("streamType", "stderr")])
        while await stdout.receive_some():
            pass
        while await error.receive_some():
            pass


async def measure(requests: int, sessions: int) -> dict[str, float]:
    ca = trustme.CA()
    leaf = ca.issue_cert("127.0.0.1")
    with tempfile.TemporaryDirectory() as directory:
        cert, key = Path(directory, "c.crt"), Path(directory, "c.key")
        leaf.cert_chain_pems[0].write_to_path(str(cert))
        leaf.private_key_pem.write_to_path(str(key))
        mock = MockProvider(node_name=NODE)
        pod: Pod = {
            "metadata": {"name": "p", "namespace": "ns"},
            "spec": {"containers": [{"name": "app"}]},
        }
        await mock.create_pod(pod)
        config = KubeletServerConfig(
            node_name=NODE,
            tls_cert_file=str(cert),
            tls_key_file=str(key),
            listen_address="127.0.0.1",
            port=0,
            anonymous_auth=True,
        )
        server = KubeletServer(config, mock, pods=list)
        context = ssl.create_default_context()
        ca.configure_trust(context)
        context.set_alpn_protocols(["http/1.1"])
        figures: dict[str, float] = {}
        async with trio.open_nursery() as nursery:
            port: int = await nursery.start(server.run)
            await _rate(port, context, b"/healthz", 100, 1)  # warm up
            cpu = time.process_time()
            figures["healthz_c1_rps"] = await _rate(port, context, b"/healthz", requests, 1)
            figures["healthz_cpu_s_per_1000"] = (time.process_time() - cpu) / requests * 1000
            figures["healthz_c16_rps"] = await _rate(port, context, b"/healthz", requests, 16)
            logs = b"/containerLogs/ns/p/app?tailLines=1"
            figures["logs_c1_rps"] = await _rate(port, context, logs, requests, 1)
            latencies = []
            start = time.perf_counter()
            for _ in range(sessions):
                began = time.perf_counter()
                await _exec_session(port, context)
                latencies.append(time.perf_counter() - began)
            figures["spdy_exec_sessions_per_s"] = sessions / (time.perf_counter() - start)
            figures["spdy_exec_p50_ms"] = statistics.median(latencies) * 1000
            server.stop()
    return figures
