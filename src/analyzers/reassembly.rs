//! TCP stream reassembly with bounded buffering and gap detection.
//!
//! One [`StreamReassembler`] per connection direction turns segments (in capture order) into
//! the byte stream the application sent, delivered strictly in order to a [`StreamSink`]:
//!
//! * sequence numbers are mapped to 64-bit stream offsets with u32 modular arithmetic, so
//!   wrap-around is invisible to the consumer;
//! * the stream starts after the SYN, or at the first data segment when the handshake was
//!   not captured;
//! * retransmitted and overlapping bytes are de-duplicated, the first copy wins (its bytes
//!   and its arrival time);
//! * out-of-order segments are held until the hole before them is filled. A hole is declared
//!   a gap (reported with [`StreamSink::gap`] and skipped) when the buffered bytes exceed
//!   `max_buffer_bytes`, or when the stream is flushed (RST, flow end, capture end). Bytes
//!   cut by the snapshot length (`payload_missing`) are gaps as well.
//!
//! Timing: each delivered piece carries `arrival_ns` (capture time of the packet that
//! carried it first) and `ready_ns`: the capture time at which it and every byte before it
//! (back to the last gap) had been seen, i.e. the packet that filled the last hole before it,
//! or its own arrival. A hole declared a gap fills nothing, so bytes after it are ready at
//! their arrival even if they were delivered later. A consumer that wants "first byte seen" takes
//! the minimum `arrival_ns` over a message and "all of its bytes seen" the maximum (HTTP does);
//! "delivered in order" (how tshark dates a reassembled PDU; DNS over TCP uses it) is the
//! `ready_ns` of the piece holding its last byte.
//!
//! Memory bound: buffered pieces cost their length plus [`PIECE_OVERHEAD`] bytes each, and the
//! total per direction never exceeds `max_buffer_bytes` after a segment has been processed.

use std::collections::BTreeMap;

/// Book-keeping cost charged per buffered piece, so a flood of 1-byte segments is bounded too.
/// Measured: a 1-byte piece costs about 150 bytes of heap (its allocation, its B-tree entry,
/// its entry in the arrival multiset), so the caps count real memory.
pub const PIECE_OVERHEAD: usize = 160;

/// Receives the reassembled stream of one direction.
pub trait StreamSink {
    /// In-order bytes. `arrival_ns` ≤ `ready_ns`.
    fn data(&mut self, bytes: &[u8], arrival_ns: i64, ready_ns: i64);
    /// `len` bytes of the stream will never be seen; the next `data` follows them.
    fn gap(&mut self, len: u64, ready_ns: i64);
    /// The stream ended: `clean` for a FIN whose preceding bytes were all delivered or an RST,
    /// false for a flush (flow end or capture end without a close).
    fn end(&mut self, ts_ns: i64, clean: bool);
}

/// One TCP segment of this direction, as the reassembler needs it.
#[derive(Debug, Clone, Copy)]
pub struct Segment<'a> {
    pub seq: u32,
    pub payload: &'a [u8],
    /// Payload bytes on the wire but not in the capture (snaplen).
    pub missing: u32,
    pub syn: bool,
    pub fin: bool,
    pub rst: bool,
    pub ts_ns: i64,
}

#[derive(Debug)]
struct Piece {
    data: Vec<u8>,
    /// Bytes following `data` that are known to be missing (snaplen cut).
    missing: u64,
    arrival_ns: i64,
}

impl Piece {
    fn span(&self) -> i64 {
        self.data.len() as i64 + self.missing as i64
    }
}

/// Reassembles one direction of a TCP connection.
#[derive(Debug)]
pub struct StreamReassembler {
    max_buffer_bytes: usize,
    /// Sequence number of stream offset 0, once known.
    base_seq: Option<u32>,
    /// Stream offset of the next byte to deliver.
    delivered: i64,
    /// Out-of-order pieces keyed by stream offset; never overlapping each other.
    pending: BTreeMap<i64, Piece>,
    buffered_cost: usize,
    /// Multiset of the arrival times of `pending`, for the analyzer's low watermark.
    pending_arrivals: BTreeMap<i64, u32>,
    fin_offset: Option<i64>,
    /// Highest offset the peer has acknowledged: holes below it are never filled.
    peer_acked: i64,
    ended: bool,
    /// Bytes received more than once (retransmissions and overlaps), running total.
    pub retransmitted_bytes: u64,
}

impl StreamReassembler {
    pub fn new(max_buffer_bytes: usize) -> Self {
        StreamReassembler {
            max_buffer_bytes,
            base_seq: None,
            delivered: 0,
            pending: BTreeMap::new(),
            buffered_cost: 0,
            pending_arrivals: BTreeMap::new(),
            fin_offset: None,
            peer_acked: 0,
            ended: false,
            retransmitted_bytes: 0,
        }
    }

    /// Whether the stream has ended (FIN reached, RST or flushed).
    pub fn is_ended(&self) -> bool {
        self.ended
    }

    /// Stream offset of the next byte to be delivered.
    pub fn delivered_offset(&self) -> u64 {
        self.delivered as u64
    }

    /// Earliest arrival time of a byte still held out of order.
    #[inline]
    pub fn min_pending_arrival(&self) -> Option<i64> {
        self.pending_arrivals.keys().next().copied()
    }

    /// Bytes (plus per-piece overhead) currently buffered out of order.
    pub fn buffered_cost(&self) -> usize {
        self.buffered_cost
    }

    /// Stream offset of a sequence number of this direction (e.g. the peer's ACK), if the
    /// stream has started; within ±2 GiB of the delivery point.
    pub fn offset_of(&self, seq: u32) -> Option<u64> {
        let base = self.base_seq?;
        let next_seq = base.wrapping_add(self.delivered as u32);
        let offset = self.delivered + seq.wrapping_sub(next_seq) as i32 as i64;
        u64::try_from(offset).ok()
    }

    /// Nothing held out of order and no FIN still to reach: a segment without payload or
    /// flags changes nothing here, and an ACK of this direction only moves `peer_acked`
    /// ([`Self::note_peer_ack`]).
    #[inline]
    pub fn is_quiet(&self) -> bool {
        self.pending.is_empty() && (self.ended || self.fin_offset.is_none())
    }

    /// [`Self::on_peer_ack`] on a quiet stream: no hole to skip, nothing to deliver.
    #[inline]
    pub fn note_peer_ack(&mut self, ack: u32) {
        debug_assert!(self.is_quiet());
        if self.ended {
            return;
        }
        if let Some(acked) = self.offset_of(ack) {
            self.peer_acked = self.peer_acked.max(acked as i64);
        }
    }

    /// Whether a segment of this direction starting at `seq` brings the next bytes to
    /// deliver (the stream has started and not ended).
    #[inline]
    pub fn is_next(&self, seq: u32) -> bool {
        !self.ended
            && self
                .base_seq
                .is_some_and(|base| base.wrapping_add(self.delivered as u32) == seq)
    }

    /// [`Self::push`] of the next bytes ([`Self::is_next`]) on a quiet stream: delivered at
    /// once, as `push` would.
    #[inline]
    pub fn deliver_next(&mut self, payload: &[u8], ts_ns: i64, sink: &mut dyn StreamSink) {
        debug_assert!(self.is_quiet());
        self.delivered += payload.len() as i64;
        sink.data(payload, ts_ns, ts_ns);
    }

    /// The peer acknowledged everything before `ack`: bytes below it that were not captured
    /// will never be retransmitted, so holes below it are gaps now (what Zeek calls "ack above
    /// hole"). Buffered bytes above the hole are delivered.
    pub fn on_peer_ack(&mut self, ack: u32, ts_ns: i64, sink: &mut dyn StreamSink) {
        if self.ended {
            return;
        }
        let Some(acked) = self.offset_of(ack).map(|o| o as i64) else {
            return;
        };
        self.peer_acked = self.peer_acked.max(acked);
        self.skip_acked_holes(ts_ns, sink);
        self.check_fin(ts_ns, sink);
    }

    /// Holes followed by buffered data and acknowledged by the peer are gaps. (A hole at the
    /// stream end waits for the next data: that ACK may just precede the bytes in the capture.)
    fn skip_acked_holes(&mut self, ts_ns: i64, sink: &mut dyn StreamSink) {
        while let Some((&first, _)) = self.pending.first_key_value() {
            if first > self.peer_acked || first <= self.delivered {
                break;
            }
            sink.gap((first - self.delivered) as u64, ts_ns);
            self.delivered = first;
            self.drain(i64::MIN, sink);
        }
    }

    /// Processes one segment of this direction.
    pub fn push(&mut self, seg: &Segment<'_>, sink: &mut dyn StreamSink) {
        if self.ended {
            return;
        }
        if seg.rst {
            self.flush(seg.ts_ns, true, sink);
            return;
        }
        // Data on a SYN (TFO) starts one past the ISN.
        let data_seq = if seg.syn {
            seg.seq.wrapping_add(1)
        } else {
            seg.seq
        };
        let span = seg.payload.len() as i64 + seg.missing as i64;
        if self.base_seq.is_none() && (seg.syn || span > 0 || seg.fin) {
            self.base_seq = Some(data_seq);
        }
        let Some(base_seq) = self.base_seq else {
            return;
        };
        // Sequence number of the next byte to deliver (offsets beyond 4 GiB wrap like seq).
        let next_seq = base_seq.wrapping_add(self.delivered as u32);
        // Signed distance in sequence space: handles wrap-around.
        let start = self.delivered + data_seq.wrapping_sub(next_seq) as i32 as i64;
        if span > 0 {
            self.insert(start, seg.payload, seg.missing as u64, seg.ts_ns, sink);
        }
        if seg.fin && self.fin_offset.is_none() {
            self.fin_offset = Some(start + span);
        }
        self.skip_acked_holes(seg.ts_ns, sink);
        while self.buffered_cost > self.max_buffer_bytes {
            self.skip_first_hole(seg.ts_ns, sink);
        }
        self.check_fin(seg.ts_ns, sink);
    }

    /// Declares every remaining hole a gap, delivers what is buffered and ends the stream.
    pub fn flush(&mut self, ts_ns: i64, clean: bool, sink: &mut dyn StreamSink) {
        if self.ended {
            return;
        }
        while !self.pending.is_empty() {
            self.skip_first_hole(ts_ns, sink);
        }
        if let Some(fin) = self.fin_offset {
            if fin > self.delivered {
                sink.gap((fin - self.delivered) as u64, ts_ns);
                self.delivered = fin;
            }
        }
        self.ended = true;
        sink.end(ts_ns, clean);
    }

    /// Declares every hole before held data a gap and delivers what is held (the stream goes
    /// on): how a memory budget takes this direction's out-of-order bytes back.
    pub fn give_up_held(&mut self, ts_ns: i64, sink: &mut dyn StreamSink) {
        while !self.pending.is_empty() {
            self.skip_first_hole(ts_ns, sink);
        }
        self.check_fin(ts_ns, sink);
    }

    fn check_fin(&mut self, ts_ns: i64, sink: &mut dyn StreamSink) {
        if self.fin_offset.is_some_and(|fin| fin <= self.delivered) {
            self.ended = true;
            self.drop_pending();
            sink.end(ts_ns, true);
        }
    }

    /// Drops what is held out of order (and the maps' own nodes).
    pub(crate) fn drop_pending(&mut self) {
        self.pending.clear();
        self.pending_arrivals.clear();
        self.buffered_cost = 0;
    }

    fn skip_first_hole(&mut self, ts_ns: i64, sink: &mut dyn StreamSink) {
        let Some((&first, _)) = self.pending.first_key_value() else {
            return;
        };
        if first > self.delivered {
            sink.gap((first - self.delivered) as u64, ts_ns);
            self.delivered = first;
        }
        self.drain(i64::MIN, sink);
    }

    /// Delivers buffered pieces that are now contiguous with the stream. A piece is ready when
    /// it and everything before it had been seen: the latest arrival in the run, at least
    /// `ready_floor` (the time of the segment that filled the hole; `i64::MIN` after a gap,
    /// where nothing was filled and bytes count as seen when they arrived).
    fn drain(&mut self, ready_floor: i64, sink: &mut dyn StreamSink) {
        let mut ready_ns = ready_floor;
        while let Some(entry) = self.pending.first_entry() {
            if *entry.key() != self.delivered {
                break;
            }
            let piece = entry.remove();
            self.forget_arrival(piece.arrival_ns);
            self.buffered_cost -= piece.data.len() + PIECE_OVERHEAD;
            self.delivered += piece.span();
            ready_ns = ready_ns.max(piece.arrival_ns);
            if !piece.data.is_empty() {
                sink.data(&piece.data, piece.arrival_ns, ready_ns);
            }
            if piece.missing > 0 {
                sink.gap(piece.missing, ready_ns);
            }
        }
    }

    fn forget_arrival(&mut self, arrival_ns: i64) {
        if let Some(count) = self.pending_arrivals.get_mut(&arrival_ns) {
            *count -= 1;
            if *count == 0 {
                self.pending_arrivals.remove(&arrival_ns);
            }
        }
    }

    fn insert(
        &mut self,
        mut start: i64,
        mut data: &[u8],
        mut missing: u64,
        ts_ns: i64,
        sink: &mut dyn StreamSink,
    ) {
        let end = start + data.len() as i64 + missing as i64;
        if end <= self.delivered {
            self.retransmitted_bytes += data.len() as u64;
            return;
        }
        if start < self.delivered {
            let cut = (self.delivered - start) as u64;
            let cut_data = cut.min(data.len() as u64) as usize;
            self.retransmitted_bytes += cut_data as u64;
            data = &data[cut_data..];
            missing -= cut - cut_data as u64;
            start = self.delivered;
        }
        // Fast path: in order and nothing buffered, deliver straight from the packet.
        if start == self.delivered && self.pending.is_empty() {
            self.delivered = end;
            if !data.is_empty() {
                sink.data(data, ts_ns, ts_ns);
            }
            if missing > 0 {
                sink.gap(missing, ts_ns);
            }
            return;
        }
        // Ranges already held win (first copy); store only the uncovered parts.
        let mut covered: Vec<(i64, i64)> = Vec::new();
        if let Some((&k, p)) = self.pending.range(..=start).next_back() {
            if k + p.span() > start {
                covered.push((k, k + p.span()));
            }
        }
        for (&k, p) in self.pending.range(start + 1..end) {
            covered.push((k, k + p.span()));
        }
        let mut cursor = start;
        let data_end = start + data.len() as i64;
        let add_piece = |this: &mut Self, from: i64, to: i64| {
            if from >= to {
                return;
            }
            let d_from = from.min(data_end);
            let d_to = to.min(data_end);
            let bytes = data[(d_from - start) as usize..(d_to - start) as usize].to_vec();
            let miss = (to - from) - (d_to - d_from);
            this.buffered_cost += bytes.len() + PIECE_OVERHEAD;
            *this.pending_arrivals.entry(ts_ns).or_insert(0) += 1;
            this.pending.insert(
                from,
                Piece {
                    data: bytes,
                    missing: miss as u64,
                    arrival_ns: ts_ns,
                },
            );
        };
        for (c_start, c_end) in covered {
            if c_start > cursor {
                add_piece(self, cursor, c_start.min(end));
            }
            let overlap = c_end.min(end) - c_start.max(cursor);
            if overlap > 0 {
                let data_overlap = c_end.min(data_end) - c_start.max(cursor);
                self.retransmitted_bytes += data_overlap.max(0) as u64;
            }
            cursor = cursor.max(c_end);
        }
        if cursor < end {
            add_piece(self, cursor, end);
        }
        self.drain(ts_ns, sink);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Default, Debug)]
    struct Recorder {
        bytes: Vec<u8>,
        pieces: Vec<(Vec<u8>, i64, i64)>,
        gaps: Vec<u64>,
        ended: Option<bool>,
    }

    impl StreamSink for Recorder {
        fn data(&mut self, bytes: &[u8], arrival_ns: i64, ready_ns: i64) {
            self.bytes.extend_from_slice(bytes);
            self.pieces.push((bytes.to_vec(), arrival_ns, ready_ns));
        }
        fn gap(&mut self, len: u64, _ready_ns: i64) {
            self.gaps.push(len);
        }
        fn end(&mut self, _ts_ns: i64, clean: bool) {
            self.ended = Some(clean);
        }
    }

    fn seg(seq: u32, payload: &[u8], ts: i64) -> Segment<'_> {
        Segment {
            seq,
            payload,
            missing: 0,
            syn: false,
            fin: false,
            rst: false,
            ts_ns: ts,
        }
    }

    #[test]
    fn in_order_after_syn() {
        let mut r = StreamReassembler::new(1 << 20);
        let mut rec = Recorder::default();
        let mut syn = seg(1000, b"", 1);
        syn.syn = true;
        r.push(&syn, &mut rec);
        r.push(&seg(1001, b"abc", 2), &mut rec);
        r.push(&seg(1004, b"def", 3), &mut rec);
        let mut fin = seg(1007, b"", 4);
        fin.fin = true;
        r.push(&fin, &mut rec);
        assert_eq!(rec.bytes, b"abcdef");
        assert_eq!(rec.pieces[1], (b"def".to_vec(), 3, 3));
        assert_eq!(rec.ended, Some(true));
        assert!(rec.gaps.is_empty());
    }

    #[test]
    fn out_of_order_keeps_arrival_and_ready_times() {
        let mut r = StreamReassembler::new(1 << 20);
        let mut rec = Recorder::default();
        r.push(&seg(10, b"ab", 1), &mut rec);
        r.push(&seg(14, b"ef", 2), &mut rec);
        r.push(&seg(16, b"gh", 3), &mut rec);
        assert_eq!(r.min_pending_arrival(), Some(2));
        r.push(&seg(12, b"cd", 4), &mut rec);
        assert_eq!(rec.bytes, b"abcdefgh");
        assert_eq!(
            rec.pieces,
            vec![
                (b"ab".to_vec(), 1, 1),
                (b"cd".to_vec(), 4, 4),
                (b"ef".to_vec(), 2, 4),
                (b"gh".to_vec(), 3, 4)
            ]
        );
        assert_eq!(r.min_pending_arrival(), None);
        assert_eq!(r.buffered_cost(), 0);
    }

    #[test]
    fn retransmission_and_overlap_first_copy_wins() {
        let mut r = StreamReassembler::new(1 << 20);
        let mut rec = Recorder::default();
        r.push(&seg(0, b"0123", 1), &mut rec);
        r.push(&seg(0, b"XXXX", 2), &mut rec); // full retransmission
        r.push(&seg(8, b"89", 3), &mut rec); // out of order
        r.push(&seg(2, b"YY45678Z", 4), &mut rec); // overlaps both sides
        r.push(&seg(6, b"ZZZZZ", 5), &mut rec); // all old but one byte
        assert_eq!(rec.bytes, b"0123456789Z");
        // 4 + 2 ("YY") + 2 ("8Z" vs "89": "89" held) ... counted per overlapping byte.
        assert_eq!(r.retransmitted_bytes, 4 + 2 + 2 + 4);
    }

    #[test]
    fn sequence_wrap_around() {
        let base = u32::MAX - 2;
        let mut r = StreamReassembler::new(1 << 20);
        let mut rec = Recorder::default();
        let mut syn = seg(base.wrapping_sub(1), b"", 0);
        syn.syn = true;
        r.push(&syn, &mut rec);
        r.push(&seg(base.wrapping_add(5), b"fgh", 2), &mut rec);
        r.push(&seg(base, b"abcde", 3), &mut rec);
        r.push(&seg(base.wrapping_add(1), b"bc", 4), &mut rec);
        assert_eq!(rec.bytes, b"abcdefgh");
        assert_eq!(r.delivered_offset(), 8);
    }

    #[test]
    fn overflow_declares_gap() {
        let mut r = StreamReassembler::new(100 + 2 * PIECE_OVERHEAD);
        let mut rec = Recorder::default();
        r.push(&seg(0, b"ab", 1), &mut rec);
        r.push(&seg(10, &[b'x'; 60], 2), &mut rec);
        assert!(rec.gaps.is_empty());
        r.push(&seg(70, &[b'y'; 60], 3), &mut rec);
        assert_eq!(rec.gaps, vec![8]);
        assert_eq!(rec.bytes.len(), 2 + 120);
        assert_eq!(r.buffered_cost(), 0);
        // The lost bytes arriving late are old now.
        r.push(&seg(2, b"cdefghij", 4), &mut rec);
        assert_eq!(rec.bytes.len(), 122);
    }

    #[test]
    fn flush_reports_holes_and_fin_tail() {
        let mut r = StreamReassembler::new(1 << 20);
        let mut rec = Recorder::default();
        r.push(&seg(0, b"ab", 1), &mut rec);
        let mut s = seg(5, b"fg", 2);
        s.fin = true;
        r.push(&s, &mut rec);
        assert_eq!(rec.ended, None);
        r.flush(9, false, &mut rec);
        assert_eq!(rec.gaps, vec![3]);
        assert_eq!(rec.bytes, b"abfg");
        assert_eq!(rec.ended, Some(false));
    }

    #[test]
    fn snaplen_missing_bytes_are_gaps() {
        let mut r = StreamReassembler::new(1 << 20);
        let mut rec = Recorder::default();
        let mut s = seg(0, b"abc", 1);
        s.missing = 7;
        r.push(&s, &mut rec);
        r.push(&seg(10, b"k", 2), &mut rec);
        assert_eq!(rec.bytes, b"abck");
        assert_eq!(rec.gaps, vec![7]);
    }

    #[test]
    fn peer_ack_above_hole_declares_gap() {
        let mut r = StreamReassembler::new(1 << 20);
        let mut rec = Recorder::default();
        r.push(&seg(100, b"ab", 1), &mut rec);
        r.push(&seg(105, b"fg", 2), &mut rec);
        r.on_peer_ack(104, 3, &mut rec); // hole not fully acked: wait
        assert!(rec.gaps.is_empty());
        r.on_peer_ack(107, 4, &mut rec);
        assert_eq!(rec.gaps, vec![3]);
        assert_eq!(rec.bytes, b"abfg");
        assert_eq!(r.offset_of(107), Some(7));
        assert_eq!(r.offset_of(99), None);
        // The peer acknowledges bytes never captured; data after them arrives later.
        r.on_peer_ack(120, 5, &mut rec);
        assert_eq!(rec.gaps, vec![3]);
        r.push(&seg(115, b"pq", 6), &mut rec);
        assert_eq!(rec.gaps, vec![3, 8]);
        assert_eq!(rec.bytes, b"abfgpq");
        assert_eq!(rec.pieces.last(), Some(&(b"pq".to_vec(), 6, 6)));
    }

    #[test]
    fn rst_flushes() {
        let mut r = StreamReassembler::new(1 << 20);
        let mut rec = Recorder::default();
        r.push(&seg(0, b"ab", 1), &mut rec);
        r.push(&seg(4, b"ef", 2), &mut rec);
        let mut s = seg(6, b"", 3);
        s.rst = true;
        r.push(&s, &mut rec);
        assert_eq!(rec.gaps, vec![2]);
        assert_eq!(rec.ended, Some(true));
        r.push(&seg(2, b"cd", 4), &mut rec);
        assert_eq!(rec.bytes, b"abef");
    }
}
