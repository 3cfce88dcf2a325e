"""A scripted SPDY peer for tests: encodes frames we choose, decodes what the session sends."""

from __future__ import annotations

from vk_trio.api.spdy import (
    DataFrame,
    Frame,
    FrameDecoder,
    FrameEncoder,
    SessionConfig,
    Setting,
    SettingsFrame,
    SettingsId,
    SpdySession,
    WindowUpdateFrame,
)

#: What a session with the default configuration sends first: its 16 MiB receive window.
PREFACE: list[Frame] = [
    SettingsFrame(settings=(Setting(SettingsId.INITIAL_WINDOW_SIZE, 16 << 20),)),
    WindowUpdateFrame(0, (16 << 20) - 65536),
]


def new_session(*, client_side: bool, config: SessionConfig | None = None) -> SpdySession:
    """A session whose window announcement (see :data:`PREFACE`) was already taken, so tests
    see only the frames they provoke.  (Those frames are not compressed: skipping them leaves
    every header-compression stream in step.)"""
    session = SpdySession(client_side=client_side, config=config)
    session.data_to_send()
    return session


def without_preface(frames: list[Frame]) -> list[Frame]:
    """Check that ``frames`` start with the default :data:`PREFACE` and drop it."""
    assert frames[: len(PREFACE)] == PREFACE
    return frames[len(PREFACE) :]


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
