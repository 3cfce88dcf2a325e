"""A scripted SPDY peer for tests: encodes frames we choose, decodes what the session sends."""

from __future__ import annotations

from hypothesis import strategies as st

from vk_trio.api.spdy import (
    MAX_STREAM_ID,
    DataFrame,
    Frame,
    FrameDecoder,
    FrameEncoder,
    GoAwayFrame,
    HeadersFrame,
    PingFrame,
    RstStreamFrame,
    SessionConfig,
    Setting,
    SettingsFrame,
    SettingsId,
    SpdySession,
    SynReplyFrame,
    SynStreamFrame,
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


@st.composite
def frames(draw: st.DrawFn, stream_ids: st.SearchStrategy[int] | None = None) -> Frame:
    """Any valid frame (``stream_ids`` narrows the ids of stream frames)."""
    stream_ids = stream_ids if stream_ids is not None else st.integers(1, MAX_STREAM_ID)
    names = st.text(alphabet="abcdefghijklmnopqrstuvwxyz-0123456789", min_size=1, max_size=12)
    values = st.text(alphabet=st.characters(min_codepoint=1, max_codepoint=255), max_size=30)
    headers = st.lists(st.tuples(names, values), max_size=5).map(
        lambda pairs: tuple(dict(pairs).items())
    )
    kind = draw(st.integers(0, 8))
    if kind == 0:
        return DataFrame(draw(stream_ids), draw(st.binary(max_size=300)), draw(st.booleans()))
    if kind == 1:
        return SynStreamFrame(
            stream_id=draw(stream_ids),
            associated_stream_id=draw(st.integers(0, MAX_STREAM_ID)),
            priority=draw(st.integers(0, 7)),
            slot=draw(st.integers(0, 255)),
            headers=draw(headers),
            fin=draw(st.booleans()),
            unidirectional=draw(st.booleans()),
        )
    if kind == 2:
        return SynReplyFrame(
            stream_id=draw(stream_ids), headers=draw(headers), fin=draw(st.booleans())
        )
    if kind == 3:
        return HeadersFrame(
            stream_id=draw(stream_ids), headers=draw(headers), fin=draw(st.booleans())
        )
    if kind == 4:
        return RstStreamFrame(draw(stream_ids), draw(st.integers(0, 0xFFFFFFFF)))
    if kind == 5:
        entries = st.builds(
            Setting, st.integers(0, 0xFFFFFF), st.integers(0, 0xFFFFFFFF), st.integers(0, 255)
        )
        return SettingsFrame(
            settings=tuple(draw(st.lists(entries, max_size=4))), clear=draw(st.booleans())
        )
    if kind == 6:
        return PingFrame(draw(st.integers(0, 0xFFFFFFFF)))
    if kind == 7:
        return GoAwayFrame(draw(st.integers(0, MAX_STREAM_ID)), draw(st.integers(0, 0xFFFFFFFF)))
    return WindowUpdateFrame(
        draw(st.integers(0, MAX_STREAM_ID)), draw(st.integers(1, MAX_STREAM_ID))
    )
