"""A scripted SPDY peer for tests: encodes frames we choose, decodes what the session sends."""

from __future__ import annotations

from vk_trio.api.spdy import DataFrame, Frame, FrameDecoder, FrameEncoder, SpdySession


class RawPeer:
    """The other end of a :class:`SpdySession`, driven frame by frame.

    It owns its own compression streams, so header blocks it sends and receives stay in step with
    the session exactly as a real peer's would.
    """

    def __init__(self) -> None:
        self.encoder = FrameEncoder()
        self.decoder = FrameDecoder()

    def encode(self, *frames: Frame) -> bytes:
        return b"".join(self.encoder.encode(frame) for frame in frames)

    def read(self, session: SpdySession) -> list[Frame]:
        """Everything the session queued for us, decoded."""
        return self.decoder.receive_data(session.data_to_send())


def coalesce(frames: list[Frame]) -> list[Frame]:
    """Merge runs of DATA on the same stream into one value.

    The decoder hands out a DATA payload in pieces when it arrives in pieces, so comparisons of
    frame sequences across different deliveries are made on this normal form.
    """
    out: list[Frame] = []
    for frame in frames:
        last = out[-1] if out else None
        if (
            isinstance(frame, DataFrame)
            and isinstance(last, DataFrame)
            and last.stream_id == frame.stream_id
            and not last.fin
        ):
            out[-1] = DataFrame(frame.stream_id, last.data + frame.data, frame.fin)
        else:
            out.append(frame)
    return out
