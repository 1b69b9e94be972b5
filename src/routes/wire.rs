//! A connection's bytes on their way to actix-http's parser: request targets written with
//! raw UTF-8 are percent-encoded, and a request head the parser would refuse (answering 400
//! with an empty body) is swapped for one that reaches `malformed_request` instead, so the
//! client gets the JSON error envelope like every other error.
//!
//! Why here: curl and many browsers send `?q=海淀 徒步`'s characters as raw bytes;
//! httparse accepts them, but the `http` crate's `Uri` (0.2, which actix-http 3 uses) does
//! not, and that refusal happens in the codec, before any handler or middleware runs.
//! To rewrite heads and nothing else, the stream follows HTTP/1.1 framing: a head, then a
//! body of `Content-Length` bytes or chunks; anything it does not follow (an upgrade, a
//! transfer coding other than chunked) passes through untouched from there on.
//!
//! The same framing bounds slow clients: a request, head and body, must arrive within the
//! client time limit of its first byte. actix-http's own head timer covers only a
//! connection's first request, and nothing bounds a body, so without this a client that
//! trickles a byte a second holds its connection (and the memory behind it) for ever. Past
//! the limit, a client still sending its head gets 408 `request_timeout` and the connection
//! is closed; one still sending its body is cut off.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use actix_web::http::Uri;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::Sleep;

/// The method of the request put in place of a malformed head; `routes` answers it with the
/// error named in its path.
pub const MALFORMED_METHOD: &str = "GROUPSCOUT-MALFORMED";

/// actix-http's own limits: it refuses heads longer than this, or with more headers.
const MAX_HEAD: usize = 131_072;
const MAX_HEADERS: usize = 96;
/// Heads up to this long are parsed on every read, so a malformed one is answered at once
/// even when no line end follows.
const EAGER_PARSE: usize = 4096;

/// Where the stream is in the framing of the requests it carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Frame {
    /// Expecting (the rest of) a request head.
    Head,
    /// Inside a body with this many bytes to go.
    Body(u64),
    /// Expecting a chunk-size line.
    ChunkSize,
    /// Inside a chunk: its data and the CRLF after it.
    ChunkData(u64),
    /// Expecting trailer lines up to an empty one.
    Trailers,
    /// Passing everything through unchanged (after an upgrade or a framing not followed).
    Opaque,
    /// A malformed head was replaced; what follows is dropped until the client closes.
    Discard,
}

/// An IO stream whose reads carry request heads that actix-http accepts.
pub struct TidyHeads<S> {
    inner: S,
    frame: Frame,
    /// Bytes read but not yet framed.
    pending: Vec<u8>,
    /// Framed bytes not yet handed to the reader, from `ready_at` on.
    ready: Vec<u8>,
    ready_at: usize,
    /// How many bytes of `pending` were already tried as a head: a head ends at a line
    /// feed, so past `EAGER_PARSE` bytes it is parsed again only once a new one arrives (a
    /// long head sent a byte at a time is then parsed once a line, not once a byte).
    head_scanned: usize,
    /// Requests whose head and body have passed through.
    completed: u64,
    /// How long a request may take to arrive, from its first byte.
    limit: Option<Duration>,
    /// When the request arriving now must be complete, and the `completed` count it is for.
    deadline: Option<(Pin<Box<Sleep>>, u64)>,
}

impl<S> TidyHeads<S> {
    /// A stream whose requests must each arrive within `limit` of their first byte
    /// (`None`: no limit).
    pub fn new(inner: S, limit: Option<Duration>) -> TidyHeads<S> {
        TidyHeads {
            inner,
            frame: Frame::Head,
            pending: Vec::new(),
            ready: Vec::new(),
            ready_at: 0,
            head_scanned: 0,
            completed: 0,
            limit,
            deadline: None,
        }
    }

    /// Whether part of a request has arrived and the rest has not.
    fn inside_request(&self) -> bool {
        match self.frame {
            Frame::Head => !self.pending.is_empty(),
            Frame::Body(_) | Frame::ChunkSize | Frame::ChunkData(_) | Frame::Trailers => true,
            Frame::Opaque | Frame::Discard => false,
        }
    }

    /// Starts the clock when a request begins, and stops it when it is complete.
    fn update_deadline(&mut self) {
        if self.deadline.as_ref().is_some_and(|(_, n)| *n != self.completed) || !self.inside_request() {
            self.deadline = None;
        }
        if let (None, Some(limit), true) = (&self.deadline, self.limit, self.inside_request()) {
            self.deadline = Some((Box::pin(tokio::time::sleep(limit)), self.completed));
        }
    }

    /// The client ran out of time: a head still arriving is answered 408 (the malformed
    /// path), a body still arriving ends the connection.
    fn time_out(&mut self) -> io::Result<()> {
        self.deadline = None;
        if self.frame == Frame::Head {
            self.ready.extend_from_slice(malformed_head("request_timeout").as_bytes());
            self.pending.clear();
            self.frame = Frame::Discard;
            return Ok(());
        }
        self.frame = Frame::Discard;
        self.pending.clear();
        Err(io::Error::new(io::ErrorKind::TimedOut, "the request body did not arrive within the client time limit"))
    }

    /// Moves as much of `pending` to `ready` as the framing allows.
    fn frame(&mut self) {
        loop {
            match self.frame {
                Frame::Head => {
                    let fresh = &self.pending[self.head_scanned.min(self.pending.len())..];
                    if !fresh.contains(&b'\n') && (EAGER_PARSE..=MAX_HEAD).contains(&self.pending.len()) {
                        self.head_scanned = self.pending.len();
                        return;
                    }
                    let Some((head, frame)) = tidy_head(&self.pending) else {
                        self.head_scanned = self.pending.len();
                        return;
                    };
                    self.head_scanned = 0;
                    match head {
                        Head::Tidy { len, bytes } => {
                            self.ready.extend_from_slice(&bytes);
                            self.pending.drain(..len);
                            self.frame = frame;
                            if frame == Frame::Head {
                                self.completed += 1;
                            }
                        }
                        Head::Malformed(reason) => {
                            self.ready.extend_from_slice(malformed_head(reason).as_bytes());
                            self.pending.clear();
                            self.frame = Frame::Discard;
                        }
                    }
                }
                Frame::Body(n) | Frame::ChunkData(n) => {
                    let take = n.min(self.pending.len() as u64) as usize;
                    if take == 0 && n > 0 {
                        return;
                    }
                    self.ready.extend(self.pending.drain(..take));
                    let left = n - take as u64;
                    if let (Frame::Body(_), 0) = (self.frame, left) {
                        self.completed += 1;
                    }
                    self.frame = match (self.frame, left) {
                        (Frame::Body(_), 0) => Frame::Head,
                        (Frame::Body(_), _) => Frame::Body(left),
                        (_, 0) => Frame::ChunkSize,
                        _ => Frame::ChunkData(left),
                    };
                }
                Frame::ChunkSize => match httparse::parse_chunk_size(&self.pending) {
                    Ok(httparse::Status::Complete((used, size))) => {
                        self.ready.extend(self.pending.drain(..used));
                        self.frame = if size == 0 { Frame::Trailers } else { Frame::ChunkData(size.saturating_add(2)) };
                    }
                    Ok(httparse::Status::Partial) if self.pending.len() < 1024 => return,
                    _ => self.frame = Frame::Opaque,
                },
                Frame::Trailers => {
                    let Some(end) = self.pending.windows(2).position(|w| w == b"\r\n") else { return };
                    self.ready.extend(self.pending.drain(..end + 2));
                    if end == 0 {
                        self.frame = Frame::Head;
                        self.completed += 1;
                    }
                }
                Frame::Opaque => {
                    self.ready.append(&mut self.pending);
                    return;
                }
                Frame::Discard => {
                    self.pending.clear();
                    return;
                }
            }
            if self.pending.is_empty() {
                return;
            }
        }
    }
}

/// What became of a complete request head.
enum Head {
    /// The head as actix-http should see it, and how many bytes of input it replaces.
    Tidy { len: usize, bytes: Vec<u8> },
    /// A head actix-http would refuse, with the reason it is refused.
    Malformed(&'static str),
}

/// Looks at the start of `input`: nothing while the head is incomplete, else the head to
/// pass on and the framing of what follows it.
fn tidy_head(input: &[u8]) -> Option<(Head, Frame)> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut req = httparse::Request::new(&mut headers);
    let len = match req.parse(input) {
        Ok(httparse::Status::Complete(len)) => len,
        Ok(httparse::Status::Partial) if input.len() <= MAX_HEAD => return None,
        Ok(httparse::Status::Partial) => return Some((Head::Malformed("head_too_large"), Frame::Discard)),
        Err(httparse::Error::TooManyHeaders) => return Some((Head::Malformed("head_too_large"), Frame::Discard)),
        Err(_) => return Some((Head::Malformed("malformed_request"), Frame::Discard)),
    };
    let malformed = |reason| Some((Head::Malformed(reason), Frame::Discard));
    // The request line is the first line that is not empty: method, target, version.
    let line_start = input.iter().position(|b| *b != b'\r' && *b != b'\n').unwrap_or(0);
    let target_start = line_start + input[line_start..].iter().position(|b| *b == b' ')? + 1;
    let target_end = target_start + input[target_start..].iter().position(|b| *b == b' ')?;
    let target = percent_encode_target(&input[target_start..target_end]);
    if Uri::try_from(target.as_slice()).is_err() {
        return malformed("malformed_request");
    }
    let mut frame = Frame::Head;
    let mut length: Option<u64> = None;
    for h in req.headers.iter() {
        if h.name.eq_ignore_ascii_case("content-length") {
            let n = std::str::from_utf8(h.value).ok().and_then(|v| v.trim().parse::<u64>().ok());
            match (n, length) {
                (None, _) => return malformed("malformed_request"),
                (Some(n), Some(m)) if n != m => return malformed("malformed_request"),
                (Some(n), _) => length = Some(n),
            }
        } else if h.name.eq_ignore_ascii_case("transfer-encoding") {
            let last = h.value.rsplit(|b| *b == b',').next().unwrap_or_default();
            frame = if last.trim_ascii().eq_ignore_ascii_case(b"chunked") { Frame::ChunkSize } else { Frame::Opaque };
        } else if h.name.eq_ignore_ascii_case("upgrade") {
            frame = Frame::Opaque;
        }
    }
    if req.method == Some("CONNECT") {
        frame = Frame::Opaque;
    }
    if frame == Frame::Head {
        frame = match length {
            Some(n) if n > 0 => Frame::Body(n),
            _ => Frame::Head,
        };
    }
    let mut bytes = Vec::with_capacity(len + target.len());
    bytes.extend_from_slice(&input[..target_start]);
    bytes.extend_from_slice(&target);
    bytes.extend_from_slice(&input[target_end..len]);
    Some((Head::Tidy { len, bytes }, frame))
}

/// Percent-encodes the bytes of a request target that `http`'s `Uri` refuses although
/// clients send them: anything beyond ASCII (raw UTF-8), and `"`, `<`, `>`, `` ` ``.
pub fn percent_encode_target(target: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(target.len());
    for &b in target {
        if b >= 0x80 || matches!(b, b'"' | b'<' | b'>' | b'`') {
            out.extend_from_slice(format!("%{b:02X}").as_bytes());
        } else {
            out.push(b);
        }
    }
    out
}

/// The head that stands in for a malformed one: it reaches the malformed-request handler
/// with the reason in its path, and closes the connection after the answer.
fn malformed_head(reason: &str) -> String {
    format!(
        "{MALFORMED_METHOD} /{reason} HTTP/1.1\r\nhost: groupscout\r\nconnection: close\r\ncontent-length: 0\r\n\r\n"
    )
}

impl<S: AsyncRead + Unpin> AsyncRead for TidyHeads<S> {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        loop {
            if this.ready_at < this.ready.len() {
                let n = buf.remaining().min(this.ready.len() - this.ready_at);
                buf.put_slice(&this.ready[this.ready_at..this.ready_at + n]);
                this.ready_at += n;
                if this.ready_at == this.ready.len() {
                    this.ready.clear();
                    this.ready_at = 0;
                }
                return Poll::Ready(Ok(()));
            }
            // Past the heads there is nothing to rewrite: read straight into the caller's buffer.
            if this.frame == Frame::Opaque && this.pending.is_empty() {
                return Pin::new(&mut this.inner).poll_read(cx, buf);
            }
            if let Some((sleep, _)) = this.deadline.as_mut() {
                if sleep.as_mut().poll(cx).is_ready() {
                    this.time_out()?;
                    continue;
                }
            }
            let mut chunk = [0u8; 8192];
            let mut read = ReadBuf::new(&mut chunk);
            match Pin::new(&mut this.inner).poll_read(cx, &mut read) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Ready(Ok(())) if read.filled().is_empty() => {
                    // The client is done: whatever is left goes on as it is, then the end.
                    if this.frame == Frame::Discard {
                        this.pending.clear();
                    }
                    if this.pending.is_empty() {
                        return Poll::Ready(Ok(()));
                    }
                    this.ready.append(&mut this.pending);
                }
                Poll::Ready(Ok(())) => {
                    this.pending.extend_from_slice(read.filled());
                    this.frame();
                    this.update_deadline();
                }
            }
        }
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for TidyHeads<S> {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, data: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, data)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Frames `input` delivered in pieces of `step` bytes; returns what the parser would see.
    fn framed(input: &[u8], step: usize) -> Vec<u8> {
        let mut s = TidyHeads::new((), None);
        for piece in input.chunks(step) {
            s.pending.extend_from_slice(piece);
            s.frame();
        }
        s.ready
    }

    #[test]
    fn raw_utf8_in_a_target_is_percent_encoded_and_bodies_are_left_alone() {
        let input = "GET /v1/search?q=海淀 徒步 HTTP/1.1\r\nHost: x\r\n\r\n".replace("q=海淀 ", "q=海淀%20");
        let body = "{\"name\": \"海淀 徒步\"}";
        let post = format!("POST /v1/groups HTTP/1.1\r\nContent-Length: {}\r\n\r\n{body}", body.len());
        let chunked = "POST /v1/activity?x=é HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\n徒\r\n0\r\n\r\n";
        let all = format!("{input}{post}{chunked}{input}");
        let tidy = input.replace("海淀", "%E6%B5%B7%E6%B7%80").replace("徒步", "%E5%BE%92%E6%AD%A5");
        let want = format!("{tidy}{post}{}{tidy}", chunked.replace("x=é", "x=%C3%A9"));
        for step in [1, 3, 7, 64, 4096] {
            assert_eq!(String::from_utf8(framed(all.as_bytes(), step)).unwrap(), want, "step {step}");
        }
    }

    #[test]
    fn a_long_head_in_small_pieces_is_framed_as_in_one_piece() {
        let input =
            format!("GET /a?q=é HTTP/1.1\r\nX-Long: {}\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\n\r\n", "v".repeat(10_000));
        let want = input.replace("q=é", "q=%C3%A9");
        for step in [1, 5, 4096, 65536] {
            assert_eq!(String::from_utf8(framed(input.as_bytes(), step)).unwrap(), want, "step {step}");
        }
        // No line end at all: refused once past the bound.
        let junk = "G".repeat(MAX_HEAD + 10);
        assert_eq!(String::from_utf8(framed(junk.as_bytes(), 1000)).unwrap(), malformed_head("head_too_large"));
    }

    #[test]
    fn a_head_the_parser_would_refuse_becomes_the_malformed_request_and_the_rest_is_dropped() {
        let out = framed(b"GET /a HTTP/1.1\r\nBad Header: x\r\n\r\nGET /b HTTP/1.1\r\n\r\n", 5);
        assert_eq!(String::from_utf8(out).unwrap(), malformed_head("malformed_request"));
        let out = framed(b"POST /a HTTP/1.1\r\nContent-Length: ten\r\n\r\n", 100);
        assert_eq!(String::from_utf8(out).unwrap(), malformed_head("malformed_request"));
        let huge = format!("GET /{} HTTP/1.1\r\n", "a".repeat(MAX_HEAD + 1));
        assert_eq!(String::from_utf8(framed(huge.as_bytes(), 8192)).unwrap(), malformed_head("head_too_large"));
    }
}
