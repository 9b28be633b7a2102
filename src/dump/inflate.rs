//! The lzma decoder of one blob, on its own thread.
//!
//! Decoding is most of the work of `split-dump64` (the floor of `ci/bench-artifacts.sh`). On its
//! own thread it overlaps with reading the log, base64 and writing files, so the command costs
//! little more than the decoder alone. Memory stays bounded both ways: the scanner stops
//! queueing compressed bytes once [`IN_FLIGHT`] are unconsumed, and decoded chunks wait in a
//! channel of [`OUT_CHUNKS`]. The scanner never blocks on sending, only on receiving, and the
//! decoder answers every input with a `Consumed` message, so the two cannot wait on each other.

use std::collections::VecDeque;
use std::sync::mpsc::{self, Receiver, RecvError, Sender, SyncSender, TryRecvError};
use std::thread::JoinHandle;
use std::time::Duration;

use liblzma::stream::{Action, CONCATENATED, Status, Stream};

/// Memory the lzma decoder may use: enough for any preset (9 needs 65 MiB), not for a forged
/// header asking for gigabytes.
const MEMLIMIT: u64 = 256 << 20;
/// Compressed bytes gathered before they are handed to the decoder.
const BATCH: usize = 16 * 1024;
/// Compressed bytes the scanner may have handed over and not yet seen consumed.
const IN_FLIGHT: u64 = 1 << 20;
/// Size of one decoded chunk, and how many may wait for the splitter.
const OUT_CHUNK: usize = 64 * 1024;
const OUT_CHUNKS: usize = 16;

/// Delays on either side of the channel: none in use. Tests inject them ([`pace`]) to show that
/// what a scan reports does not depend on which thread is faster.
#[derive(Clone, Copy, Default)]
struct Pace {
    /// Before the decoder handles each input.
    decoder: Duration,
    /// Before the scanner looks for each event.
    scanner: Duration,
}

impl Pace {
    fn current() -> Pace {
        #[cfg(test)]
        return pace::PACE.get();
        #[cfg(not(test))]
        Pace::default()
    }
}

fn pause(d: Duration) {
    if !d.is_zero() {
        std::thread::sleep(d);
    }
}

/// `(end, line)`: the bytes of a buffer up to `end` (from the previous entry's end) belong to
/// log line `line`.
type Lines = Vec<(usize, u64)>;

enum Input {
    /// Compressed bytes and the log lines they came from.
    Data { data: Vec<u8>, lines: Lines },
    /// The end marker was seen: the stream must end here.
    Finish,
}

enum Output {
    /// Decoded bytes and the log lines whose compressed bytes produced them.
    Data {
        data: Vec<u8>,
        lines: Lines,
    },
    /// Compressed bytes consumed so far, in all.
    Consumed(u64),
    End,
    /// `at`: compressed offset where the decoder failed; `None` at the finish.
    Corrupt {
        at: Option<u64>,
        reason: String,
    },
}

/// What the decoder reports to the scanner.
pub(super) enum Event {
    /// Decoded bytes, in order, with the log lines they were decoded from (see [`Lines`]).
    Data { data: Vec<u8>, lines: Lines },
    /// The compressed stream ended; later data belongs to nothing.
    End,
    /// The data is not a valid stream; `line` is the log line whose bytes showed it.
    Corrupt { line: u64, reason: String },
}

/// Records that a buffer's bytes up to `end` belong to `line`.
fn mark(lines: &mut Lines, end: usize, line: u64) {
    match lines.last_mut() {
        Some(last) if last.1 == line => last.0 = end,
        _ => lines.push((end, line)),
    }
}

/// The scanner's handle on a decoder thread.
pub(super) struct Inflater {
    tx: Option<Sender<Input>>,
    rx: Option<Receiver<Output>>,
    thread: Option<JoinHandle<()>>,
    batch: Vec<u8>,
    /// The log lines of `batch`.
    batch_lines: Lines,
    /// Compressed bytes handed over, and consumed, so far.
    sent: u64,
    consumed: u64,
    /// `(end offset, line)` of the lines handed over and not yet consumed, to name the line
    /// of a failure.
    lines: VecDeque<(u64, u64)>,
    /// The line of the end marker, for a failure at the finish.
    last_line: u64,
    pace: Pace,
}

impl Inflater {
    /// Starts a decoder for `.lzma` (LZMA_Alone) or `.xz` data, whichever the stream is.
    pub(super) fn start() -> Result<Inflater, String> {
        let stream = Stream::new_auto_decoder(MEMLIMIT, CONCATENATED).map_err(|e| e.to_string())?;
        let (tx, input) = mpsc::channel();
        let (output, rx) = mpsc::sync_channel(OUT_CHUNKS);
        let pace = Pace::current();
        let thread = std::thread::Builder::new()
            .name("kdc-inflate".into())
            .spawn(move || decode(stream, input, output, pace.decoder))
            .map_err(|e| format!("cannot start the decoder thread: {e}"))?;
        Ok(Inflater {
            tx: Some(tx),
            rx: Some(rx),
            thread: Some(thread),
            batch: Vec::with_capacity(BATCH),
            batch_lines: Vec::new(),
            sent: 0,
            consumed: 0,
            lines: VecDeque::new(),
            last_line: 0,
            pace,
        })
    }

    /// Queues compressed bytes that came from log line `line`.
    pub(super) fn push(&mut self, data: &[u8], line: u64) {
        self.batch.extend_from_slice(data);
        mark(&mut self.batch_lines, self.batch.len(), line);
        let end = self.sent + self.batch.len() as u64;
        match self.lines.back_mut() {
            Some(last) if last.1 == line => last.0 = end,
            _ => self.lines.push_back((end, line)),
        }
        self.last_line = line;
        if self.batch.len() >= BATCH {
            self.flush();
        }
    }

    fn flush(&mut self) {
        if self.batch.is_empty() {
            return;
        }
        let data = std::mem::replace(&mut self.batch, Vec::with_capacity(BATCH));
        let lines = std::mem::take(&mut self.batch_lines);
        self.sent += data.len() as u64;
        if let Some(tx) = &self.tx {
            // A decoder that stopped has said why on the output channel.
            let _ = tx.send(Input::Data { data, lines });
        }
    }

    /// Ends the input: with `finish` the stream must end here (the end marker at `line`);
    /// without, the blob was cut off and whatever decodes is kept.
    pub(super) fn close(&mut self, finish: bool, line: u64) {
        self.flush();
        self.last_line = line;
        if let Some(tx) = self.tx.take()
            && finish
        {
            let _ = tx.send(Input::Finish);
        }
    }

    /// The next event: waits for one when `wait` is set or too much is in flight, else returns
    /// `None` when nothing is ready. Also `None` once the decoder has stopped and said all.
    pub(super) fn poll(&mut self, wait: bool) -> Option<Event> {
        pause(self.pace.scanner);
        loop {
            let rx = self.rx.as_ref()?;
            let msg = if wait || self.sent - self.consumed > IN_FLIGHT {
                rx.recv().map_err(|RecvError| TryRecvError::Disconnected)
            } else {
                rx.try_recv()
            };
            let msg = match msg {
                Ok(m) => m,
                Err(TryRecvError::Empty) => return None,
                Err(TryRecvError::Disconnected) => {
                    self.rx = None;
                    return None;
                }
            };
            match msg {
                Output::Data { data, lines } => return Some(Event::Data { data, lines }),
                Output::Consumed(n) => {
                    self.consumed = n;
                    while self.lines.front().is_some_and(|&(end, _)| end <= n) {
                        self.lines.pop_front();
                    }
                }
                Output::End => return Some(Event::End),
                Output::Corrupt { at, reason } => {
                    let line = at
                        .and_then(|at| self.lines.iter().find(|&&(end, _)| end >= at))
                        .map_or(self.last_line, |&(_, line)| line);
                    return Some(Event::Corrupt { line, reason });
                }
            }
        }
    }
}

impl Drop for Inflater {
    /// Dropping the channels first makes a decoder blocked on either side stop at once.
    fn drop(&mut self) {
        self.tx = None;
        self.rx = None;
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The decoded bytes gathered so far, as a message; `out` starts again empty.
fn chunk(out: &mut Vec<u8>, lines: &mut Lines) -> Output {
    Output::Data {
        data: std::mem::replace(out, Vec::with_capacity(OUT_CHUNK)),
        lines: std::mem::take(lines),
    }
}

/// The decoder thread: runs liblzma over each input, one log line's bytes at a time so that
/// every decoded byte is known to come from a line, and sends what comes out in chunks, until
/// the stream ends, fails, or either channel closes.
fn decode(mut stream: Stream, input: Receiver<Input>, output: SyncSender<Output>, pace: Duration) {
    let send = |m: Output| output.send(m).is_ok();
    let mut out = Vec::with_capacity(OUT_CHUNK);
    let mut out_lines = Lines::new();
    let mut last_line = 0;
    for msg in input {
        pause(pace);
        let (data, lines, action) = match msg {
            Input::Data { data, lines } => (data, lines, Action::Run),
            // The line of output made at the finish is the last line's.
            Input::Finish => (Vec::new(), vec![(0, last_line)], Action::Finish),
        };
        let finish = matches!(action, Action::Finish);
        let mut start = 0;
        'batch: for (end, line) in lines {
            last_line = line;
            let mut rest = &data[start..end];
            start = end;
            loop {
                let before = stream.total_in();
                let had = out.len();
                let res = stream.process_vec(rest, &mut out, action);
                let used = (stream.total_in() - before) as usize;
                rest = &rest[used.min(rest.len())..];
                let made = out.len() > had;
                if made {
                    mark(&mut out_lines, out.len(), line);
                }
                let full = out.len() == out.capacity();
                if full && !send(chunk(&mut out, &mut out_lines)) {
                    return;
                }
                let stop = match res {
                    Ok(Status::StreamEnd) => Some(Output::End),
                    Ok(_) if used == 0 && !made => {
                        if finish {
                            Some(Output::Corrupt {
                                at: None,
                                reason: "compressed data ends early".to_string(),
                            })
                        } else if rest.is_empty() {
                            break;
                        } else {
                            // The rest of the batch is not taken either.
                            break 'batch;
                        }
                    }
                    Ok(_) if rest.is_empty() && !full && !finish => break,
                    Ok(_) => None,
                    Err(e) => Some(Output::Corrupt {
                        at: Some(stream.total_in()),
                        reason: e.to_string(),
                    }),
                };
                if let Some(last) = stop {
                    if !out.is_empty() && !send(chunk(&mut out, &mut out_lines)) {
                        return;
                    }
                    send(last);
                    return;
                }
            }
        }
        if !out.is_empty() && !send(chunk(&mut out, &mut out_lines)) {
            return;
        }
        if !send(Output::Consumed(stream.total_in())) {
            return;
        }
    }
}

/// The test hook: delays for decoders started on this thread.
#[cfg(test)]
pub(super) mod pace {
    use std::cell::Cell;
    use std::time::Duration;

    thread_local! {
        pub(super) static PACE: Cell<super::Pace> = Cell::new(super::Pace::default());
    }

    /// Sets the delays of the decoders this thread starts from now on.
    pub(crate) fn set(decoder: Duration, scanner: Duration) {
        PACE.set(super::Pace { decoder, scanner });
    }
}
